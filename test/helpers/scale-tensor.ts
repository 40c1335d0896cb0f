// Multiplies one tensor of a model folder's model.safetensors (f32) in place: a random tiny
// model's output layer (the tied embedding) is so small that its next-token distributions are
// nearly uniform, and adapters on the decoder blocks alone cannot make them peak; a larger one
// gives LoRA-only training (the tinker backend's) something it can learn within a few steps.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function scaleTensor(modelDir: string, name: string, factor: number): void {
  const path = join(modelDir, 'model.safetensors');
  const bytes = readFileSync(path);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8'));
  const entry = header[name];
  if (!entry || entry.dtype !== 'F32') throw new Error(`${path} has no f32 tensor ${name}`);
  const [start, end] = entry.data_offsets as [number, number];
  const base = 8 + headerLength + start;
  for (let at = base; at < 8 + headerLength + end; at += 4) bytes.writeFloatLE(bytes.readFloatLE(at) * factor, at);
  writeFileSync(path, bytes);
}

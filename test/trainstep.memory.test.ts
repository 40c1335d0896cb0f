// The process keeps about the memory a training step really uses. Each step allocates and
// frees many tensors of a few MB on several threads; glibc kept the freed memory in
// per-thread arenas and the process held about 3x its live memory (3.2-3.5 GB resident after
// steps that need 1.1 GB), so the addon hands free pages back after each step.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadModel, makeTinyModel } from '../src/index.js';
import { DEMO_MODEL_SIZE } from '../src/demo/make-model.js';
import { tempDir } from './helpers/tiny-model.js';

const residentMiB = () => (Number(readFileSync('/proc/self/statm', 'utf8').split(' ')[1]) * 4096) / 2 ** 20;

test('SFT steps of 16 x 170 tokens on the demo-sized model stay under 2 GiB resident', { skip: process.platform !== 'linux' && 'reads /proc' }, async () => {
  const dir = tempDir();
  makeTinyModel({ arch: 'gpt2', outDir: dir, seed: 0, size: DEMO_MODEL_SIZE });
  const model = await loadModel(dir);
  const sequences = Array.from({ length: 16 }, (_, b) => Int32Array.from({ length: 170 - (b % 5) * 10 }, (_, i) => (i * 7 + b) % 600));
  const masks = sequences.map((s) => Uint8Array.from(s, (_, i) => (i > 40 ? 1 : 0)));
  let peak = 0;
  for (let step = 0; step < 4; step++) {
    const m = await model.trainStep({ sequences, masks }, { loss: 'sft', learningRate: 1e-3, microBatchSize: 16 });
    assert.ok(!m.skipped);
    peak = Math.max(peak, residentMiB());
  }
  assert.ok(peak < 2048, `resident ${peak.toFixed(0)} MiB after steps whose tensors need about 1.1 GiB`);
});

/**
 * Hub repos for the loopback Hub (fake-hub.ts), made of the project's own tiny models: a
 * chat model with two commits (tag v1, branch main) and files the engine does not read,
 * the same model in two safetensors shards, a gated copy, a repo of GGUF files, and a repo
 * with PyTorch weights only.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTinyModel } from '../../src/index.js';
import { folderFiles, type FakeRepo } from './fake-hub.js';
import { tempDir } from './tiny-model.js';

export const CHAT_REPO = 'tiny-org/tiny-chat';
export const SHARDED_REPO = 'tiny-org/tiny-sharded';
export const GATED_REPO = 'tiny-org/tiny-gated';
export const GGUF_REPO = 'tiny-org/tiny-gguf';
export const BIN_REPO = 'tiny-org/tiny-bin';
export const GRANTED_TOKEN = 'hf_granted_loopback_token';

/** What the engine reads from a tiny model repo (everything else must stay on the Hub). */
export const ENGINE_FILES = ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'];
const EXTRAS = { 'README.md': Buffer.from('# tiny chat\n'), 'pytorch_model.bin': Buffer.alloc(4096, 7), 'onnx/model.onnx': Buffer.alloc(2048, 3) };

export interface HubRepos {
  repos: FakeRepo[];
  /** The tiny model folders the commits were made from: v1 (seed 1) and main (seed 2). */
  v1Dir: string;
  mainDir: string;
}

export function makeHubRepos(): HubRepos {
  const v1Dir = tempDir();
  const mainDir = tempDir();
  makeTinyModel({ arch: 'llama', outDir: v1Dir, seed: 1 });
  makeTinyModel({ arch: 'llama', outDir: mainDir, seed: 2 });
  const v1 = { ...folderFiles(v1Dir), ...EXTRAS };
  const main: Record<string, Buffer> = { ...folderFiles(mainDir), ...EXTRAS };
  const { 'model.safetensors': weights, ...rest } = folderFiles(mainDir);
  const gguf = join('test', 'fixtures', 'parity', 'llama-gguf');
  return {
    v1Dir,
    mainDir,
    repos: [
      { id: CHAT_REPO, commits: [{ files: v1, refs: ['v1'] }, { files: main, refs: ['main'] }] },
      { id: SHARDED_REPO, commits: [{ files: { ...rest, ...shardSafetensors(weights) }, refs: ['main'] }] },
      { id: GATED_REPO, commits: [{ files: main, refs: ['main'] }], gated: true, grantedTokens: [GRANTED_TOKEN] },
      {
        id: GGUF_REPO,
        commits: [{ files: { 'README.md': EXTRAS['README.md'], 'model-f32.gguf': readFileSync(join(gguf, 'model-f32.gguf')), 'model-q8_0.gguf': readFileSync(join(gguf, 'model-q8_0.gguf')) }, refs: ['main'] }],
      },
      { id: BIN_REPO, commits: [{ files: { 'config.json': main['config.json'], 'tokenizer.json': main['tokenizer.json'], 'pytorch_model.bin': EXTRAS['pytorch_model.bin'] }, refs: ['main'] }] },
    ],
  };
}

/**
 * Splits a safetensors file in two shards and writes the index, as transformers'
 * save_pretrained(max_shard_size=...) does.
 */
export function shardSafetensors(file: Buffer): Record<string, Buffer> {
  const headerLength = Number(file.readBigUInt64LE(0));
  const header = JSON.parse(file.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const data = file.subarray(8 + headerLength);
  const names = Object.keys(header).filter((n) => n !== '__metadata__').sort();
  const halves = [names.slice(0, names.length >> 1), names.slice(names.length >> 1)];
  const files: Record<string, Buffer> = {};
  const weightMap: Record<string, string> = {};
  halves.forEach((part, i) => {
    const shardName = `model-0000${i + 1}-of-00002.safetensors`;
    const shardHeader: Record<string, unknown> = { __metadata__: { format: 'pt' } };
    const chunks: Buffer[] = [];
    let offset = 0;
    for (const name of part) {
      const { dtype, shape, data_offsets: [begin, end] } = header[name];
      shardHeader[name] = { dtype, shape, data_offsets: [offset, offset + end - begin] };
      chunks.push(data.subarray(begin, end));
      offset += end - begin;
      weightMap[name] = shardName;
    }
    let json = JSON.stringify(shardHeader);
    json += ' '.repeat((8 - (json.length % 8)) % 8);
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(json.length));
    files[shardName] = Buffer.concat([length, Buffer.from(json), ...chunks]);
  });
  files['model.safetensors.index.json'] = Buffer.from(JSON.stringify({ metadata: { total_size: data.length }, weight_map: weightMap }, null, 2));
  return files;
}

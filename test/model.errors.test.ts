// Bad input to the Model API: a StatesetError with a stable code and a message naming the
// problem, never a crash.
import { isCode } from './helpers/errors.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModel, randomModel, type GenerateOptions } from '../src/index.js';
import { callNativeAsync, native } from '../src/native.js';
import { tempDir, tinyModel } from './helpers/tiny-model.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';


test('token ids outside the vocabulary are rejected with their place', async () => {
  const { model } = await tinyModel('llama');
  const v = model.config.vocabSize;
  const ok = model.tokenize('Hi');
  await assert.rejects(model.generate([ok, Int32Array.from([1, v])], { maxNewTokens: 2 }), isCode('ERR_INVALID_TOKEN', new RegExp(`prompt 1 .*${v} at position 1`)));
  await assert.rejects(model.score([Int32Array.from([3, -1])]), isCode('ERR_INVALID_TOKEN', /sequence 0 .*-1/));
  await assert.rejects(model.generate([ok], { maxNewTokens: 2, stopTokenIds: [v + 5] }), isCode('ERR_INVALID_TOKEN', /stopTokenIds/));
  assert.throws(() => model.detokenize([v]), isCode('ERR_INVALID_TOKEN', /vocabulary/));
});

test('invalid sampling and scoring parameters name the parameter', async () => {
  const { model } = await tinyModel('gpt2');
  const prompts = [model.tokenize('Hi')];
  const bad: Array<[Partial<GenerateOptions>, RegExp]> = [
    [{ temperature: -1 }, /temperature/],
    [{ topP: 0 }, /topP/],
    [{ topP: 1.5 }, /topP/],
    [{ topK: 2.5 }, /topK/],
    [{ minP: 2 }, /minP/],
    [{ repetitionPenalty: 0 }, /repetitionPenalty/],
    [{ seed: -3 }, /seed/],
    [{ maxNewTokens: -1 }, /maxNewTokens/],
    [{ stopTokenIds: [1.5] as number[] }, /stopTokenIds/],
  ];
  for (const [options, name] of bad) {
    await assert.rejects(model.generate(prompts, { maxNewTokens: 2, ...options }), isCode('ERR_INVALID_PARAMETER', name));
  }
  await assert.rejects(model.score(prompts, { start: 0 }), isCode('ERR_INVALID_PARAMETER', /start/));
  await assert.rejects(model.score(prompts, { temperature: 0 }), isCode('ERR_INVALID_PARAMETER', /temperature/));
  await assert.rejects(model.generate([new Int32Array(0)], { maxNewTokens: 2 }), isCode('ERR_INVALID_ARGUMENT', /prompt 0 is empty/));
  await assert.rejects(model.generate(prompts, { maxNewTokens: 100_000 }), isCode('ERR_INVALID_PARAMETER', /positions/));
  await assert.rejects(model.generate('Hi' as unknown as Int32Array[], { maxNewTokens: 2 }), isCode('ERR_INVALID_ARGUMENT', /prompts/));
});

test('maxNewTokens is required when the model has no default', async () => {
  const model = await randomModel({ model_type: 'gpt2', n_embd: 8, n_head: 2, n_layer: 1, n_positions: 16, vocab_size: 50 });
  await assert.rejects(model.generate([Int32Array.from([1])], {} as GenerateOptions), isCode('ERR_INVALID_PARAMETER', /maxNewTokens is required/));
});

test('a missing model path and bad thread counts are clear errors', async () => {
  await assert.rejects(loadModel('/nonexistent/model'), isCode('ERR_INVALID_MODEL', /\/nonexistent\/model/));
  await assert.rejects(loadModel('/tmp', { threads: 0 }), isCode('ERR_INVALID_PARAMETER', /threads/));
});

test('a panic inside an async native task rejects the promise and Node lives on', async () => {
  await assert.rejects(callNativeAsync(() => native.__panicInTaskForTests()), isCode('ERR_NATIVE_PANIC', /deliberate panic/));
  const { model } = await tinyModel('gpt2');
  assert.equal((await model.score([model.tokenize('still alive')])).length, 1);
});

/** A copy of the parity GGUF with the u32 metadata value of `key` set to `value`, renamed to `renameTo` if given. */
function patchedGguf(key: string, value: number, renameTo?: string): string {
  const bytes = readFileSync(join(import.meta.dirname, 'fixtures/parity/llama-gguf/model-q8_0.gguf'));
  const at = bytes.indexOf(Buffer.from(key));
  assert.ok(at > 0 && bytes.readUInt32LE(at + key.length) === 4, `${key} is a u32 in the fixture`);
  if (renameTo) bytes.write(renameTo, at, 'utf8');
  bytes.writeUInt32LE(value, at + key.length + 4);
  const path = join(tempDir(), 'model.gguf');
  writeFileSync(path, bytes);
  return path;
}

test('model files with absurd sizes are refused with ERR_INVALID_MODEL, and Node lives on', async () => {
  const { dir } = await tinyModel('llama');
  const configPath = join(dir, 'config.json');
  const config = JSON.parse(readFileSync(configPath, 'utf8'));
  for (const [key, value] of [['num_hidden_layers', 1_000_000_000], ['max_position_embeddings', 1e12]] as const) {
    writeFileSync(configPath, JSON.stringify({ ...config, [key]: value }));
    await assert.rejects(loadModel(dir), isCode('ERR_INVALID_MODEL', new RegExp(`config\\.json: ${key} is ${value}`)));
  }
  await assert.rejects(loadModel(patchedGguf('llama.block_count', 1e9)), isCode('ERR_INVALID_MODEL', /model\.gguf: llama\.block_count is 1000000000/));
  await assert.rejects(loadModel(patchedGguf('llama.context_length', 2 ** 32 - 1)), isCode('ERR_INVALID_MODEL', /llama\.context_length is 4294967295/));
  // general.file_type has the same length as general.alignment: renamed, it sets alignment 0.
  await assert.rejects(loadModel(patchedGguf('general.file_type', 0, 'general.alignment')), isCode('ERR_INVALID_MODEL', /'general\.alignment' is 0/));
  writeFileSync(configPath, JSON.stringify(config));
  const model = await loadModel(dir);
  assert.equal((await model.score([model.tokenize('still alive')])).length, 1);
});

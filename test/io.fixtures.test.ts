// The committed parity fixtures (written by Python transformers and the gguf package)
// through the native binding: inspect, tokenize like Python, convert GGUF to a folder.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { convertModel, inspectModel, Tokenizer } from '../src/index.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'parity');
const out = mkdtempSync(join(tmpdir(), 'stateset-io-fixtures-'));
after(() => rmSync(out, { recursive: true, force: true }));

interface Recorded {
  sequences: { text: string; ids: number[] }[];
}
const recorded = (file: string): Recorded => JSON.parse(readFileSync(join(FIXTURES, file), 'utf8'));

test('transformers folders and GGUF files describe the same tiny Llama', async () => {
  const folder = await inspectModel(join(FIXTURES, 'llama'));
  assert.equal(folder.config.ropeTheta, 50000);
  assert.equal(folder.config.tieWordEmbeddings, false);
  for (const file of ['model-f32.gguf', 'model-q8_0.gguf']) {
    const gguf = await inspectModel(join(FIXTURES, 'llama-gguf', file));
    assert.deepEqual(gguf.config, folder.config);
    assert.deepEqual(gguf.eos, folder.eos);
    assert.equal(gguf.chatTemplate, folder.chatTemplate);
  }
  assert.equal((await inspectModel(join(FIXTURES, 'gpt2'))).config.architecture, 'gpt2');
});

test('tokenizers from tokenizer.json and from GGUF metadata encode like Python', () => {
  for (const source of ['gpt2', 'llama', 'llama-gguf/model-q8_0.gguf']) {
    const tokenizer = Tokenizer.load(join(FIXTURES, source));
    for (const { text, ids } of recorded('llama/logits.json').sequences) {
      assert.deepEqual(Array.from(tokenizer.encode(text)), ids, `${source}: ${text}`);
    }
  }
});

test('a GGUF converts to a HuggingFace folder that loads back the same', async () => {
  const gguf = join(FIXTURES, 'llama-gguf', 'model-q8_0.gguf');
  const converted = await convertModel(gguf, join(out, 'converted'));
  assert.deepEqual(await inspectModel(join(out, 'converted')), converted);
  assert.deepEqual(converted, await inspectModel(gguf));
});

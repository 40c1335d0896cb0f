// Tiny models through the native binding and the CLI: real files in a temp folder.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspectModel, makeTinyModel, Tokenizer } from '../src/index.js';
import { isCode, throwsCode } from './helpers/errors.js';
import { main } from '../src/cli/index.js';

const made: string[] = [];
const temp = (): string => {
  made.push(mkdtempSync(join(tmpdir(), 'stateset-io-')));
  return made[made.length - 1];
};
after(() => made.forEach((dir) => rmSync(dir, { recursive: true, force: true })));


for (const arch of ['gpt2', 'llama'] as const) {
  test(`makeTinyModel writes a ${arch} HuggingFace folder that loads back`, async () => {
    const dir = temp();
    const info = makeTinyModel({ arch, outDir: dir, seed: 7 });
    for (const file of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json']) {
      assert.ok(existsSync(join(dir, file)), file);
    }
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    assert.equal(config.model_type, arch);
    assert.deepEqual(config.architectures, [arch === 'gpt2' ? 'GPT2LMHeadModel' : 'LlamaForCausalLM']);
    assert.equal(config.vocab_size, info.config.vocabSize);
    assert.equal(info.config.numKvHeads, arch === 'llama' ? 2 : 4);
    assert.deepEqual(info.eos.map((t) => t.text), ['<|im_end|>']);
    assert.match(JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')).chat_template, /<\|im_start\|>/);
    assert.deepEqual(await inspectModel(dir), info);
  });
}

test('makeTinyModel takes a size; a size that cannot make a model is refused by name', async () => {
  const dir = temp();
  const info = makeTinyModel({ arch: 'gpt2', outDir: dir, size: { hiddenSize: 96, numLayers: 3, numHeads: 6 } });
  assert.deepEqual([info.config.hiddenSize, info.config.numLayers, info.config.numHeads, info.config.headDim, info.config.intermediateSize], [96, 3, 6, 16, 384]);
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  assert.deepEqual([config.n_embd, config.n_layer, config.n_head], [96, 3, 6]);
  assert.ok(info.config.numParameters > makeTinyModel({ arch: 'gpt2', outDir: temp() }).config.numParameters);
  throwsCode(() => makeTinyModel({ arch: 'gpt2', outDir: temp(), size: { hiddenSize: 100, numHeads: 6 } }), 'ERR_INVALID_ARGUMENT', /divisible by its heads/);
  throwsCode(() => makeTinyModel({ arch: 'llama', outDir: temp(), size: { numLayers: 1.5 } }), 'ERR_INVALID_ARGUMENT', /size\.numLayers/);
});

test('makeTinyModel adds tokens that encode as one each, saved with the model; bad ones are refused by name', () => {
  const plainDir = temp();
  const plain = makeTinyModel({ arch: 'llama', outDir: plainDir });
  const dir = temp();
  const call = '<tool_call>{"name":"lookup_order","arguments":{"id":"';
  const info = makeTinyModel({ arch: 'llama', outDir: dir, addedTokens: [call, '"}}</tool_call>'] });
  assert.equal(info.config.vocabSize, plain.config.vocabSize + 2);
  const tokenizer = Tokenizer.load(dir);
  const text = `${call}#KBNJ"}}</tool_call>`;
  const ids = tokenizer.encode(text);
  assert.equal(ids[0], plain.config.vocabSize);
  assert.equal(ids[ids.length - 1], plain.config.vocabSize + 1);
  assert.ok(ids.length * 4 < Tokenizer.load(plainDir).encode(text).length, `${ids.length} tokens`);
  assert.equal(tokenizer.decode(ids), text);
  throwsCode(() => makeTinyModel({ arch: 'llama', outDir: temp(), addedTokens: ['<|im_end|>'] }), 'ERR_INVALID_ARGUMENT', /added token 0 .* already in the vocabulary/);
  throwsCode(() => makeTinyModel({ arch: 'llama', outDir: temp(), addedTokens: [3 as unknown as string] }), 'ERR_INVALID_ARGUMENT', /addedTokens must be an array of strings/);
});

test('the tokenizer round-trips a chat turn and recognizes special tokens', () => {
  const dir = temp();
  makeTinyModel({ arch: 'llama', outDir: dir });
  const tokenizer = Tokenizer.load(dir);
  const turn = '<|im_start|>user\nMy refund for order 48213 is late — why?<|im_end|>\n<|im_start|>assistant\n';
  const ids = tokenizer.encode(turn);
  assert.equal(ids[0], tokenizer.tokenToId('<|im_start|>'));
  assert.equal(ids.filter((id) => id === tokenizer.tokenToId('<|im_end|>')).length, 1);
  assert.equal(tokenizer.decode(ids), turn);
  assert.equal(tokenizer.decode(Array.from(ids)), turn);
  assert.equal(tokenizer.idToToken(ids[0]), '<|im_start|>');
  assert.equal(tokenizer.tokenToId('<|no such token|>'), undefined);
  assert.throws(() => tokenizer.decode([tokenizer.vocabSize]), isCode('ERR_INVALID_ARGUMENT', /outside the vocabulary/));
});

test('missing, corrupt and unsupported model files are clear errors', async () => {
  await assert.rejects(inspectModel(join(temp(), 'nothing-here')), isCode('ERR_INVALID_MODEL', /does not exist/));
  const dir = temp();
  makeTinyModel({ arch: 'gpt2', outDir: dir });
  const weights = join(dir, 'model.safetensors');
  writeFileSync(weights, readFileSync(weights).subarray(0, 1000));
  await assert.rejects(inspectModel(dir), isCode('ERR_INVALID_MODEL', /model\.safetensors is not a valid safetensors file/));
  const gguf = join(dir, 'broken.gguf');
  writeFileSync(gguf, 'GGUF but not really');
  await assert.rejects(inspectModel(gguf), isCode('ERR_INVALID_MODEL', /broken\.gguf is not a valid GGUF file/));
  assert.throws(() => Tokenizer.load(gguf), isCode('ERR_INVALID_MODEL', /not a valid GGUF file/));
  assert.throws(() => makeTinyModel({ arch: 'bert' as never, outDir: dir }), isCode('ERR_INVALID_ARGUMENT', /'gpt2' or 'llama'/));
  assert.throws(() => makeTinyModel({ arch: 'gpt2', outDir: dir, seed: -1 }), isCode('ERR_INVALID_ARGUMENT', /seed/));
});

test('the make-tiny-model command writes a model and rejects a bad --arch', async () => {
  const dir = join(temp(), 'model');
  assert.equal(await main(['node', 'stateset-agents', 'make-tiny-model', '--arch', 'llama', '--out', dir, '--seed', '3']), 0);
  assert.equal((await inspectModel(dir)).config.architecture, 'llama');
  assert.equal(await main(['node', 'stateset-agents', 'make-tiny-model', '--arch', 'bert', '--out', dir]), 1);
});

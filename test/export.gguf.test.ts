// GGUF export end to end: the project's own GGUF loader reads each export and scores the
// same tokens as the source model; the tokenizer and chat template travel in the file; a
// LoRA checkpoint is merged into its base; the CLI writes the file from a run's checkpoint.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { exportGguf, loadModel, makeTinyModel, Tokenizer, type GgufType, type Model } from '../src/index.js';
import { rejectsCode } from './helpers/errors.js';
import { smollm2Gguf } from './helpers/smollm2.js';
import { tempDir } from './helpers/tiny-model.js';
import { runCli } from './helpers/trainer.js';

const CHAT = '<|im_start|>user\nWhere is order 48213? It arrived late!<|im_end|>\n<|im_start|>assistant\nSorry about that, let me check.<|im_end|>\n';

/**
 * Largest log-prob difference allowed per type on the tiny random models. Measured over 16 of
 * them (GPT-2 and Llama, 8 seeds): f32 0, f16 at most 1.9e-4, q8_0 2.9e-3 to 6.7e-3.
 */
const TOLERANCE: Record<GgufType, number> = { f32: 1e-5, f16: 1e-2, q8_0: 1e-2 };

async function logprobs(model: Model, text = CHAT): Promise<Float32Array> {
  return (await model.score([model.tokenize(text)]))[0].logprobs;
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  return a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
}

for (const arch of ['gpt2', 'llama'] as const) {
  test(`${arch}: every export type loads in the project's GGUF loader and scores like the source`, async () => {
    const dir = tempDir();
    makeTinyModel({ arch, outDir: dir, seed: 11 });
    const source = await loadModel(dir);
    const expected = await logprobs(source);
    for (const type of ['f32', 'f16', 'q8_0'] as const) {
      const to = join(tempDir(), 'out', `${arch}-${type}.gguf`);
      const out = await exportGguf({ model: dir, to, type });
      assert.equal(out.path, to);
      assert.equal(out.architecture, arch);
      assert.equal(out.type, type);
      assert.equal(out.tokenizerPre, 'gpt-2');
      assert.ok(out.bytes > 0 && out.tensors > 0);
      const exported = await loadModel(to);
      const diff = maxDiff(await logprobs(exported), expected);
      assert.ok(diff <= TOLERANCE[type], `${type}: log-probs differ by ${diff}`);
      // max_new_tokens has no GGUF key; every other setting travels.
      const { generation, ...config } = exported.config;
      const { generation: sourceGeneration, ...sourceConfig } = source.config;
      assert.deepEqual(config, sourceConfig);
      assert.deepEqual({ ...generation, maxNewTokens: sourceGeneration.maxNewTokens }, sourceGeneration);
    }
  });
}

test('the trained demo model exports within the documented tolerances', async () => {
  // Trained predictions are sharper than a random model's, so q8_0's rounding moves their
  // log-probs more: measured f16 1.4e-3, q8_0 3.5e-2.
  const dir = resolve('models/customer-service-tiny');
  const expected = await logprobs(await loadModel(dir));
  for (const [type, tolerance] of [['f32', 1e-5], ['f16', 1e-2], ['q8_0', 5e-2]] as const) {
    const to = join(tempDir(), `demo-${type}.gguf`);
    await exportGguf({ model: dir, to, type });
    const diff = maxDiff(await logprobs(await loadModel(to)), expected);
    assert.ok(diff <= tolerance, `${type}: log-probs differ by ${diff}`);
  }
});

test('the tokenizer, special tokens and chat template travel in the file', async () => {
  const dir = tempDir();
  makeTinyModel({ arch: 'llama', outDir: dir, seed: 2 });
  const to = join(tempDir(), 'model.gguf');
  await exportGguf({ model: dir, to, type: 'q8_0' });
  const sample = "Hi! I'm Dana; order #48213 (two items) hasn't shipped.\n\n  Can you check?  Café ☕ 我想";
  const fromJson = Tokenizer.load(dir);
  const fromGguf = Tokenizer.load(to);
  assert.deepEqual(fromGguf.encode(sample), fromJson.encode(sample));
  assert.deepEqual(fromGguf.encode(CHAT), fromJson.encode(CHAT));
  assert.equal(fromGguf.vocabSize, fromJson.vocabSize);
  const [source, exported] = [await loadModel(dir), await loadModel(to)];
  assert.ok(exported.config.chatTemplate?.includes('<|im_start|>'));
  assert.equal(exported.config.chatTemplate, source.config.chatTemplate);
  for (const key of ['bosToken', 'bosTokenId', 'eosToken', 'eosTokenIds', 'padToken', 'padTokenId'] as const) {
    assert.deepEqual(exported.config[key], source.config[key], key);
  }
});

/** A tiny Llama with a LoRA adapter trained a few SFT steps, saved as a run's checkpoint. */
async function loraCheckpoint(): Promise<{ trained: Model; base: string; checkpoint: string }> {
  const base = tempDir();
  makeTinyModel({ arch: 'llama', outDir: base, seed: 4 });
  const trained = await loadModel(base, { lora: { rank: 4, alpha: 8, seed: 1 } });
  const ids = trained.tokenize(CHAT);
  const masks = [Uint8Array.from(ids, (_, i) => (i > 0 ? 1 : 0))];
  for (let step = 0; step < 3; step++) await trained.trainStep({ sequences: [ids], masks }, { loss: 'sft', learningRate: 2e-2 });
  const checkpoint = join(tempDir(), 'support-bot', 'checkpoints', 'step-3');
  mkdirSync(checkpoint, { recursive: true });
  await trained.saveAdapter(join(checkpoint, 'adapter'));
  return { trained, base, checkpoint };
}

test('a LoRA checkpoint is merged into its base before export', async () => {
  const { trained, base, checkpoint } = await loraCheckpoint();
  const expected = await logprobs(trained);
  const gain = maxDiff(expected, await logprobs(await loadModel(base)));
  assert.ok(gain > 1e-2, `the adapter moved the model (by ${gain})`);
  for (const model of [join(checkpoint, 'adapter'), checkpoint]) {
    const to = join(tempDir(), 'merged.gguf');
    const out = await exportGguf({ model, to, type: 'f32' });
    assert.equal(out.adapter, join(checkpoint, 'adapter'));
    const diff = maxDiff(await logprobs(await loadModel(to)), expected);
    assert.ok(diff <= 1e-5, `the merged export scores like the trained model (differs by ${diff})`);
  }
});

test('stateset-agents export writes a GGUF from a run checkpoint', async () => {
  const { trained, checkpoint } = await loraCheckpoint();
  const folder = tempDir();
  const to = join(folder, 'bot.gguf');
  const { code, stdout, stderr } = await runCli(['export', '--model', join(checkpoint, 'adapter'), '--to', to, '--type', 'q8_0']).done;
  assert.equal(code, 0, stderr);
  assert.match(stdout, /wrote .*bot\.gguf: llama, q8_0, \d+ tensors/);
  assert.match(stdout, /LoRA adapter .* merged/);
  assert.match(stdout, /ollama create bot -f Modelfile/);
  assert.deepEqual(readdirSync(folder), ['bot.gguf'], 'no partial file is left');
  const diff = maxDiff(await logprobs(await loadModel(to)), await logprobs(trained));
  assert.ok(diff <= TOLERANCE.q8_0, `q8_0 export of the checkpoint differs by ${diff}`);

  const bad = await runCli(['export', '--model', join(checkpoint, 'adapter'), '--to', join(folder, 'x.gguf'), '--type', 'q4_k']).done;
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /ERR_INVALID_ARGUMENT.*q4_k/);
  assert.ok(!existsSync(join(folder, 'x.gguf')));
});

test('bad export arguments are rejected with stable codes', async () => {
  const dir = tempDir();
  makeTinyModel({ arch: 'gpt2', outDir: dir });
  const to = join(tempDir(), 'm.gguf');
  await rejectsCode(() => exportGguf({ model: dir, to, type: 'q4_0' as GgufType }), 'ERR_INVALID_ARGUMENT', /f16, q8_0, f32/);
  await rejectsCode(() => exportGguf({ model: join(dir, 'missing'), to }), 'ERR_INVALID_MODEL', /does not exist/);
  await rejectsCode(() => exportGguf({ model: '', to }), 'ERR_INVALID_ARGUMENT', /needs `model`/);
  await rejectsCode(() => exportGguf({ model: tempDir(), to }), 'ERR_INVALID_MODEL', /config.json/);
});

const smollm2 = smollm2Gguf();
test('SmolLM2-135M-Instruct exports to q8_0 with its SmolLM pre-tokenizer and still answers', { skip: smollm2 ? false : 'run `npm run fetch:smollm2` first' }, async () => {
  const to = join(tempDir(), 'smollm2-q8_0.gguf');
  const out = await exportGguf({ model: smollm2!, to, type: 'q8_0' });
  assert.equal(out.architecture, 'llama');
  assert.equal(out.tokenizerPre, 'smollm', "llama.cpp's name for SmolLM2's digit-splitting pre-tokenizer");
  const [source, exported] = [await loadModel(smollm2!), await loadModel(to)];
  const text = 'Order 48213 shipped on 2024-05-07; it costs $1,299.99. Thanks!';
  assert.deepEqual(exported.tokenize(text), source.tokenize(text));
  // q8_0 of the (Q4_1-dequantized) weights: measured 0.31 at most and 0.042 on average per
  // token on this chat, and 0.1% of its total log-likelihood.
  const [a, b] = [await logprobs(source), await logprobs(exported)];
  const total = (x: Float32Array) => x.reduce((s, v) => s + v, 0);
  assert.ok(Math.abs(total(b) - total(a)) <= 0.01 * Math.abs(total(a)), `total log-likelihood ${total(b)} vs ${total(a)}`);
  const prompt = exported.tokenize('<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n');
  const [greedy] = await exported.generate([prompt], { maxNewTokens: 24, temperature: 0 });
  assert.match(exported.detokenize(greedy.tokens), /Paris/);
});

// The critic through the JavaScript API: what it is made of (a copy, or LoRA on the policy's
// own base), that it learns to predict returns on a toy task, and that a saved state resumes
// bit-identically.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel, type Critic, type ValueBatch } from '../src/index.js';
import { explainedVariance } from '../src/train/stats.js';
import { rejectsCode } from './helpers/errors.js';
import { rng } from './helpers/random.js';
import { tempDir, tinyModel } from './helpers/tiny-model.js';

const LENGTH = 12;

/**
 * Random sequences whose value at t (the state before token t) is the share of the tokens
 * before t that lie in the lower half of the vocabulary: a function of the visible prefix,
 * as a return is of the state it is predicted from.
 */
function toyBatch(seed: number, count: number, vocab: number): ValueBatch {
  const random = rng(seed);
  const sequences = Array.from({ length: count }, () => Int32Array.from({ length: LENGTH }, () => Math.floor(random() * vocab)));
  const masks = sequences.map((s) => Uint8Array.from(s, (_, t) => (t >= 1 ? 1 : 0)));
  const returns = sequences.map((s) => {
    const out = new Float32Array(s.length);
    let low = 0;
    for (let t = 1; t < s.length; t++) {
      low += s[t - 1] < vocab / 2 ? 1 : 0;
      out[t] = low / t;
    }
    return out;
  });
  return { sequences, masks, returns };
}

async function aligned(critic: Critic, sequences: Int32Array[]): Promise<Float32Array[]> {
  return (await critic.values(sequences)).map((v) => Float32Array.from([0, ...v]));
}

test('a full critic is a trainable copy; a LoRA critic trains adapters on the policy base it shares', async () => {
  const { model, dir } = await tinyModel('llama', 3);
  const full = await model.createCritic({ seed: 1 });
  const { hiddenSize, numParameters } = model.config;
  assert.deepEqual(full.info, { lora: false, trainableParameters: numParameters + hiddenSize + 1, sharesPolicyBase: false });
  const lora = await (await loadModel(dir, { lora: { rank: 4, alpha: 8 } })).createCritic({ seed: 1 });
  assert.equal(lora.info.lora, true);
  assert.equal(lora.info.sharesPolicyBase, true);
  // Rank-4 A and B on q, k, v and o of every layer, and the head: a fraction of the model.
  assert.ok(lora.info.trainableParameters < numParameters / 5, `${lora.info.trainableParameters} of ${numParameters}`);
  const ids = [model.tokenize('Where is my order?')];
  const [values] = await full.values(ids);
  assert.equal(values.length, ids[0].length - 1);
  assert.equal((await full.values(ids, { start: 3 }))[0].length, ids[0].length - 3);
});

test('the critic learns to predict returns: explained variance above 0.5 within 40 steps', async () => {
  const { model } = await tinyModel('llama', 3);
  const critic = await model.createCritic({ seed: 2 });
  const vocab = model.config.vocabSize;
  const heldout = toyBatch(999, 16, vocab);
  const before = explainedVariance(await aligned(critic, heldout.sequences), heldout.returns, heldout.masks);
  let last = { value_loss: NaN, value_clip_frac: NaN };
  for (let step = 0; step < 40; step++) {
    last = await critic.trainStep(toyBatch(step, 16, vocab), { learningRate: 3e-3, microBatchSize: 8 });
  }
  const after = explainedVariance(await aligned(critic, heldout.sequences), heldout.returns, heldout.masks);
  assert.ok(after > 0.5 && after > before, `explained variance ${before.toFixed(3)} -> ${after.toFixed(3)} (last value loss ${last.value_loss})`);
  assert.equal(last.value_clip_frac, 0, 'no vfClip: nothing is clipped');
});

test('vfClip needs the old values; bad batches are errors that name the array', async () => {
  const { model } = await tinyModel('gpt2', 3);
  const critic = await model.createCritic();
  const batch = toyBatch(1, 2, model.config.vocabSize);
  await rejectsCode(() => critic.trainStep(batch, { learningRate: 1e-3, vfClip: 0.2 }), 'ERR_INVALID_ARGUMENT', /oldValues is required/);
  await rejectsCode(() => critic.trainStep({ ...batch, returns: [batch.returns[0]] }, { learningRate: 1e-3 }), 'ERR_LENGTH_MISMATCH', /returns/);
  const nan = batch.returns.map((r) => Float32Array.from(r, (x, t) => (t === 3 ? NaN : x)));
  await rejectsCode(() => critic.trainStep({ ...batch, returns: nan }, { learningRate: 1e-3 }), 'ERR_NON_FINITE', /returns\[0\]\[3\]/);
  const clipped = await critic.trainStep({ ...batch, oldValues: batch.returns.map((r) => r.map(() => 5)) }, { learningRate: 1e-3, vfClip: 0.2 });
  // Every prediction is far below old values of 5: the clipped term (the larger error) wins everywhere.
  assert.equal(clipped.value_clip_frac, 1);
});

for (const lora of [false, true]) {
  test(`${lora ? 'LoRA' : 'full'} critic: save after one step, load into a new critic, and the next steps match bit for bit`, async () => {
    const { dir } = await tinyModel('llama', 3);
    const policy = await loadModel(dir, lora ? { lora: { rank: 4, alpha: 8 } } : {});
    const vocab = policy.config.vocabSize;
    const config = { learningRate: 1e-2, vfClip: 0.3, microBatchSize: 3 };
    const withOld = (seed: number) => ({ ...toyBatch(seed, 5, vocab), oldValues: toyBatch(seed + 50, 5, vocab).returns });
    const whole = await policy.createCritic({ seed: 4 });
    for (const seed of [1, 2, 3]) await whole.trainStep(withOld(seed), config);

    const first = await policy.createCritic({ seed: 4 });
    await first.trainStep(withOld(1), config);
    const state = join(tempDir(), 'critic');
    await first.save(state);
    assert.ok(existsSync(join(state, 'value_head.safetensors')));
    assert.ok(existsSync(join(state, lora ? 'adapter_model.safetensors' : 'model.safetensors')));
    const resumed = await policy.createCritic({ seed: 9 });
    await resumed.load(state);
    for (const seed of [2, 3]) await resumed.trainStep(withOld(seed), config);

    const probe = toyBatch(77, 4, vocab).sequences;
    assert.deepEqual(await resumed.values(probe), await whole.values(probe));
  });
}

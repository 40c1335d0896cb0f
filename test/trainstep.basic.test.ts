// Model.trainStep on real tiny models: steps change what score and generate see, and bad
// batches are rejected with clear codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tinyModel } from './helpers/tiny-model.js';
import { rejectsCode } from './helpers/errors.js';

const TEXT = 'Your refund was issued today and should arrive within five business days.';

function sftBatch(ids: Int32Array) {
  const mask = new Uint8Array(ids.length).fill(1);
  mask[0] = 0;
  return { sequences: [ids], masks: [mask] };
}

for (const arch of ['gpt2', 'llama'] as const) {
  test(`${arch}: SFT steps raise the scored log-likelihood of the trained text`, async () => {
    const { model } = await tinyModel(arch);
    const ids = model.tokenize(TEXT);
    const before = (await model.score([ids]))[0].logprobs.reduce((a, b) => a + b, 0);
    let first;
    for (let step = 0; step < 5; step++) {
      const m = await model.trainStep(sftBatch(ids), { loss: 'sft', learningRate: 1e-2 });
      first ??= m;
      assert.equal(m.tokens, ids.length - 1);
      assert.equal(m.step, step + 1);
      assert.ok(m.grad_norm > 0 && !m.skipped);
    }
    const after = (await model.score([ids]))[0].logprobs.reduce((a, b) => a + b, 0);
    assert.ok(after > before + 5, `log-likelihood ${before} -> ${after}`);
    assert.ok(Math.abs(first!.loss + before / (ids.length - 1)) < 1e-3, 'the first loss is the mean NLL that score reports');
  });
}

test('bad batches are rejected with stable codes', async () => {
  const { model } = await tinyModel('llama');
  const ids = model.tokenize(TEXT);
  const config = { learningRate: 1e-3 };
  const { masks } = sftBatch(ids);
  const old = [new Float32Array(ids.length)];
  await rejectsCode(() => model.trainStep({ sequences: [], masks: [] }, config), 'ERR_INVALID_ARGUMENT', /empty/);
  await rejectsCode(() => model.trainStep({ sequences: [ids], masks: [masks[0].subarray(1)], oldLogprobs: old, advantages: Float32Array.of(1) }, config), 'ERR_LENGTH_MISMATCH', /masks\[0\]/);
  await rejectsCode(() => model.trainStep({ sequences: [ids, ids], masks, oldLogprobs: old, advantages: Float32Array.of(1) }, config), 'ERR_LENGTH_MISMATCH', /masks/);
  await rejectsCode(() => model.trainStep({ sequences: [ids], masks, oldLogprobs: old, advantages: Float32Array.of(NaN) }, config), 'ERR_NON_FINITE', /advantages\[0\]/);
  await rejectsCode(() => model.trainStep({ sequences: [ids], masks }, config), 'ERR_INVALID_ARGUMENT', /oldLogprobs is required/);
  await rejectsCode(() => model.trainStep({ sequences: [ids], masks: [new Uint8Array(ids.length)] }, { ...config, loss: 'sft' }), 'ERR_INVALID_ARGUMENT', /no loss tokens/);
  await rejectsCode(() => model.trainStep(sftBatch(Int32Array.of(1, 99999)), { ...config, loss: 'sft' }), 'ERR_INVALID_TOKEN', /99999/);
  await rejectsCode(() => model.trainStep(sftBatch(ids), { loss: 'sft', learningRate: -1 }), 'ERR_INVALID_PARAMETER', /learningRate/);
  await rejectsCode(() => model.trainStep(sftBatch(ids), { loss: 'sft', learningRate: 1e-3, microBatchSize: 0 }), 'ERR_INVALID_PARAMETER', /microBatchSize/);
});

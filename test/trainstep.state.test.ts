// Training state on real tiny models: save -> restore -> continue equals an uninterrupted
// run bit for bit, a non-finite step is skipped without touching the weights, and
// micro-batching gives the update of one big batch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel, type Model, type TrainBatch, type TrainStepConfig } from '../src/index.js';
import { assertClose } from './helpers/random.js';
import { tempDir, tinyModel } from './helpers/tiny-model.js';

const TEXTS = ['Where is my order?', 'Your refund was issued today.', 'Thank you for waiting.', 'I can help with that.'];

/** A GRPO-shaped batch: every token after the first two is a loss token. */
function batchOf(model: Model, advantages: number[]): TrainBatch {
  const sequences = TEXTS.map((t) => model.tokenize(t));
  const masks = sequences.map((s) => Uint8Array.from(s, (_, i) => (i >= 2 ? 1 : 0)));
  const oldLogprobs = sequences.map((s) => Float32Array.from(s, (_, i) => (i >= 2 ? -6.5 - 0.01 * i : 0)));
  return { sequences, masks, oldLogprobs, advantages: Float32Array.from(advantages) };
}

const CONFIG: TrainStepConfig = { learningRate: 3e-3, epsHigh: 10, epsLow: 0.9, microBatchSize: 2 };
const ADVANTAGES = [1, -0.5, 0.8, -1.2];

async function logprobs(model: Model): Promise<Float32Array[]> {
  return (await model.score(TEXTS.map((t) => model.tokenize(t)))).map((s) => s.logprobs);
}

for (const lora of [undefined, { rank: 4, alpha: 8 }]) {
  const kind = lora ? 'LoRA' : 'full fine-tuning';
  test(`${kind}: save -> restore -> continue equals an uninterrupted run, bit for bit`, async () => {
    const { dir } = await tinyModel('llama');
    const straight = await loadModel(dir, { lora });
    const resumed = await loadModel(dir, { lora });
    for (let step = 0; step < 2; step++) {
      await straight.trainStep(batchOf(straight, ADVANTAGES), CONFIG);
      await resumed.trainStep(batchOf(resumed, ADVANTAGES), CONFIG);
    }
    const [weights, state] = [tempDir(), tempDir()];
    await resumed.save(weights);
    await resumed.saveTrainingState(state);
    // Full fine-tuning resumes from the saved weights; LoRA from the base plus the saved adapters.
    const restored = await loadModel(lora ? dir : weights, { lora });
    await restored.loadTrainingState(state);
    for (let step = 0; step < 2; step++) {
      // Everything but the phase timings, which measure the machine, not the state.
      const { phases: _a, ...a } = await straight.trainStep(batchOf(straight, ADVANTAGES), CONFIG);
      const { phases: _b, ...b } = await restored.trainStep(batchOf(restored, ADVANTAGES), CONFIG);
      assert.ok(_a && _b, 'the layer-wise engine reports the phases of a tiny Llama step');
      assert.deepEqual(b, a);
    }
    const [x, y] = [tempDir(), tempDir()];
    await straight.save(x);
    await restored.save(y);
    assert.ok(readFileSync(join(x, 'model.safetensors')).equals(readFileSync(join(y, 'model.safetensors'))), 'identical weights');
  });
}

test('a step with a non-finite gradient is skipped and leaves the weights unchanged', async () => {
  const { model } = await tinyModel('llama');
  const before = await logprobs(model);
  const m = await model.trainStep(batchOf(model, [3e38, -3e38, 3e38, 3e38]), CONFIG);
  assert.equal(m.skipped, true);
  assert.equal(m.skipped_steps, 1);
  assert.equal(m.step, 0);
  assert.ok(!Number.isFinite(m.grad_norm));
  assert.deepEqual(await logprobs(model), before);
  const next = await model.trainStep(batchOf(model, ADVANTAGES), CONFIG);
  assert.equal(next.skipped, false);
  assert.equal(next.skipped_steps, 1);
  assert.equal(next.step, 1);
});

test('micro-batches of 1 give the update of one batch of 4', async () => {
  const { dir } = await tinyModel('gpt2');
  const [one, split] = [await loadModel(dir), await loadModel(dir)];
  const config = { ...CONFIG, aggregation: 'seq-mean-token-mean' as const };
  const a = await one.trainStep(batchOf(one, ADVANTAGES), { ...config, microBatchSize: 4 });
  const b = await split.trainStep(batchOf(split, ADVANTAGES), { ...config, microBatchSize: 1 });
  assert.ok(Math.abs(a.loss - b.loss) < 1e-6 && Math.abs(a.grad_norm - b.grad_norm) < 1e-5 * a.grad_norm);
  assert.equal(a.tokens, b.tokens);
  const [x, y] = [await logprobs(one), await logprobs(split)];
  x.forEach((row, i) => assertClose(row, y[i], 1e-5, `sequence ${i}`));
});

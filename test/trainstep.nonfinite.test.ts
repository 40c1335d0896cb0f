// A forward pass whose log-probs are not finite is a skipped step, exactly like a
// non-finite gradient: no error out of trainStep, counted in skipped_steps, the weights left
// as they were. The adversarial input: a final-norm scale of 1e38 (finite, so the model
// loads) trained at temperature 0.01, which puts the log-probs beyond float32.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, loadModel, train, type Model, type TrainBatch } from '../src/index.js';
import { tempDir, tinyModel } from './helpers/tiny-model.js';
import { readJsonl } from './helpers/trainer.js';

/** Sets every value of the float32 tensor `name` in a safetensors file. */
function fillTensor(file: string, name: string, value: number): void {
  const bytes = readFileSync(file);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, { dtype: string; data_offsets: [number, number] }>;
  const tensor = header[name];
  assert.equal(tensor?.dtype, 'F32', `${name} is not a float32 tensor of ${file}`);
  const [start, end] = tensor.data_offsets.map((o) => 8 + headerLength + o);
  for (let at = start; at < end; at += 4) bytes.writeFloatLE(value, at);
  writeFileSync(file, bytes);
}

function batchOf(model: Model): TrainBatch {
  const sequences = ['Where is my order?', 'Your refund was issued today.'].map((t) => model.tokenize(t));
  return {
    sequences,
    masks: sequences.map((s) => Uint8Array.from(s, (_, i) => (i >= 2 ? 1 : 0))),
    oldLogprobs: sequences.map((s) => new Float32Array(s.length).fill(-3)),
    advantages: Float32Array.from([1, -1]),
  };
}

async function savedWeights(model: Model): Promise<Buffer> {
  const dir = tempDir();
  await model.save(dir);
  return readFileSync(join(dir, 'model.safetensors'));
}

async function poisonedModelDir(): Promise<string> {
  const { dir } = await tinyModel('llama');
  fillTensor(join(dir, 'model.safetensors'), 'model.norm.weight', 1e38);
  return dir;
}

test('non-finite log-probs in the training forward skip the step instead of throwing', async () => {
  const model = await loadModel(await poisonedModelDir());
  const before = await savedWeights(model);
  const config = { learningRate: 1e-2, temperature: 0.01 };

  const m = await model.trainStep(batchOf(model), config);
  assert.equal(m.skipped, true);
  assert.equal(m.skipped_steps, 1);
  assert.equal(m.step, 0);
  assert.ok(Number.isNaN(m.loss));
  assert.ok((await savedWeights(model)).equals(before), 'a skipped step changed the weights');

  // Counted again on the next one, as a non-finite gradient is.
  const again = await model.trainStep(batchOf(model), { ...config, activationCheckpointing: true });
  assert.equal(again.skipped, true);
  assert.equal(again.skipped_steps, 2);
});

test('the trainer counts a skipped step, logs it, and trains on', async () => {
  const agent = await Agent.create({ model: await poisonedModelDir() });
  const out = join(tempDir(), 'run');
  const notices: string[] = [];
  const result = await train({
    agent,
    algorithm: 'sft',
    dataset: [{ messages: [{ role: 'user', content: 'Where is my order?' }, { role: 'assistant', content: 'It ships today, thank you for waiting.' }] }],
    config: { steps: 2, batchSize: 1, generation: { temperature: 0.01 } },
    tracking: { console: false, tensorboard: false, warn: (line) => notices.push(line) },
    out,
  });
  assert.equal(result.step, 2);
  assert.deepEqual(readJsonl(join(out, 'metrics.jsonl')).map((m) => m.skipped_steps), [1, 2]);
  assert.deepEqual(
    notices.filter((n) => /optimizer updates skipped/.test(n)).map((n) => n.split(':')[0]),
    ['step 1', 'step 2'],
  );
  assert.match(notices[0], /1 of 1 optimizer updates skipped because the loss, the log-probs or the gradient was not finite; the weights were left unchanged \(1 skipped in this run so far\)/);
});

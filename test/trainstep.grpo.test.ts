// A GRPO toy task on a tiny model, with generate, groupAdvantages and trainStep directly:
// the reward is the share of completion tokens from the lower half of the vocabulary, and
// the mean reward rises clearly within a fixed budget of steps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { groupAdvantages } from '../src/index.js';
import { tinyModel } from './helpers/tiny-model.js';

const GROUP = 8;
const STEPS = 12;
const NEW_TOKENS = 8;

test('GRPO raises the mean reward of a tiny model', async () => {
  const { model } = await tinyModel('llama', 7);
  const half = model.config.vocabSize / 2;
  const prompts = ['Where is my order?', 'Hi'].map((t) => model.tokenize(t));
  const meanRewards: number[] = [];
  for (let step = 0; step < STEPS; step++) {
    const batchPrompts = prompts.flatMap((p) => Array<Int32Array>(GROUP).fill(p));
    const completions = await model.generate(batchPrompts, { maxNewTokens: NEW_TOKENS, temperature: 1, seed: step, stopTokenIds: [] });
    const rewards = completions.map((c) => c.tokens.filter((t) => t < half).length / c.tokens.length);
    meanRewards.push(rewards.reduce((a, b) => a + b, 0) / rewards.length);
    const sequences = completions.map((c, i) => Int32Array.from([...batchPrompts[i], ...c.tokens]));
    const masks = completions.map((c, i) => Uint8Array.from(sequences[i], (_, t) => (t >= batchPrompts[i].length ? 1 : 0)));
    const oldLogprobs = completions.map((c, i) => Float32Array.from([...new Array<number>(batchPrompts[i].length).fill(0), ...c.logprobs]));
    const advantages = groupAdvantages({ rewards, groupSize: GROUP });
    const m = await model.trainStep({ sequences, masks, oldLogprobs, advantages }, { learningRate: 2e-2 });
    assert.ok(Math.abs(m.ratio_mean - 1) < 1e-3, `on-policy ratios are 1 (got ${m.ratio_mean})`);
  }
  const first = (meanRewards[0] + meanRewards[1]) / 2;
  const last = (meanRewards[STEPS - 1] + meanRewards[STEPS - 2]) / 2;
  assert.ok(last > first + 0.2, `mean reward ${meanRewards.map((r) => r.toFixed(2)).join(' ')}`);
});

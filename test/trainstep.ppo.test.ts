// PPO on the GRPO toy task (trainstep.grpo.test.ts): the reward is the share of completion
// tokens from the lower half of the vocabulary, given once at the end of each completion.
// The trainer's own PPO pieces run here (per-token rewards, the critic's values, GAE,
// whitening, the clipped policy and value losses), and the mean reward rises clearly
// within a fixed budget of steps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveConfig, type Trajectory } from '../src/index.js';
import { criticMetrics, preparePpo, trainPpo } from '../src/train/ppo-step.js';
import { tinyModel } from './helpers/tiny-model.js';

const GROUP = 8;
const STEPS = 12;
const NEW_TOKENS = 8;

test('PPO with a learned critic raises the mean reward of a tiny model', async () => {
  const { model } = await tinyModel('llama', 7);
  const critic = await model.createCritic({ seed: 1 });
  const config = resolveConfig({ algorithm: 'ppo', numIterations: 2, microBatchSize: 8, ppo: { valueLearningRate: 1e-2 } });
  const half = model.config.vocabSize / 2;
  const prompts = ['Where is my order?', 'Hi'].map((t) => model.tokenize(t));
  const meanRewards: number[] = [];
  const explained: number[] = [];
  for (let step = 0; step < STEPS; step++) {
    const batchPrompts = prompts.flatMap((p) => Array<Int32Array>(GROUP).fill(p));
    const completions = await model.generate(batchPrompts, { maxNewTokens: NEW_TOKENS, temperature: 1, seed: step, stopTokenIds: [] });
    const trajectories = completions.map((c, i) => {
      const prompt = batchPrompts[i];
      const reward = c.tokens.filter((t) => t < half).length / c.tokens.length;
      const end = prompt.length + c.tokens.length;
      return {
        tokens: Int32Array.from([...prompt, ...c.tokens]),
        mask: Uint8Array.from({ length: end }, (_, t) => (t >= prompt.length ? 1 : 0)),
        logprobs: Float32Array.from([...new Array<number>(prompt.length).fill(0), ...c.logprobs]),
        turns: [{ start: prompt.length, end }],
        turnRewards: Float32Array.of(0),
        episodeReward: reward,
        reward,
      } as unknown as Trajectory;
    });
    meanRewards.push(trajectories.reduce((a, t) => a + t.reward, 0) / trajectories.length);
    const batch = await preparePpo(trajectories, critic, config);
    explained.push(batch.metrics.explained_variance);
    const passes = await trainPpo(model, critic, batch, config, step, () => ({ ...config.loss, learningRate: 2e-2 }), config.ppo.valueLearningRate);
    assert.equal(passes.policy.length, 2);
    assert.ok(Math.abs(passes.policy[0].ratio_mean - 1) < 1e-3, `the first pass is on-policy (ratio ${passes.policy[0].ratio_mean})`);
    assert.ok(Number.isFinite(criticMetrics(passes.critic).value_loss));
  }
  const first = (meanRewards[0] + meanRewards[1]) / 2;
  const last = (meanRewards[STEPS - 1] + meanRewards[STEPS - 2]) / 2;
  assert.ok(last > first + 0.2, `mean reward ${meanRewards.map((r) => r.toFixed(2)).join(' ')}; explained variance ${explained.map((e) => e.toFixed(2)).join(' ')}`);
});

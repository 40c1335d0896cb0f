// algorithm 'ppo' in the trainer: the critic's metrics, its checkpoint folder, the value
// warm-up, KL in the reward, a LoRA critic, and resume (N steps equal N/2 + resume + N/2,
// bit for bit, critic included).
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Agent, train, type DeepPartial, type TrainerConfig } from '../src/index.js';
import { preparePpo, tokenRewards } from '../src/train/ppo-step.js';
import { resolveConfig } from '../src/index.js';
import { assertClose } from './helpers/random.js';
import { tinyAgent, tinyModelDir } from './helpers/tiny-agent.js';
import { tempDir, tinyModel } from './helpers/tiny-model.js';
import { SCENARIOS, TINY_TRAINER, environment, metricsWithoutTimes, readJsonl, rewards } from './helpers/trainer.js';
import type { Trajectory } from '../src/index.js';

const PPO_METRICS = ['value_loss', 'explained_variance', 'value_clip_frac', 'value_mean', 'return_mean'];

async function run(out: string, config: DeepPartial<TrainerConfig>, options: { lora?: boolean; resume?: boolean } = {}) {
  const agent = options.lora ? await Agent.create({ model: tinyModelDir(), lora: { rank: 4, alpha: 8 } }) : await tinyAgent();
  return train({ agent, environment: environment(), rewards: rewards(), scenarios: SCENARIOS, algorithm: 'ppo', config: { ...TINY_TRAINER, ...config }, tracking: { console: false }, out, resume: options.resume });
}

const file = (out: string, step: number, ...path: string[]) => readFileSync(join(out, 'checkpoints', `step-${step}`, ...path));

describe('ppo', () => {
  it('logs the critic metrics, trains the critic alone during the value warm-up, and checkpoints it', async () => {
    const out = join(tempDir(), 'run');
    await run(out, { steps: 3, numIterations: 2, ppo: { valueWarmupSteps: 1 } });
    const metrics = readJsonl(join(out, 'metrics.jsonl'));
    assert.equal(metrics.length, 3);
    for (const line of metrics) {
      for (const key of PPO_METRICS) assert.ok(key in line, `step ${line.step}: no ${key}`);
      // explained_variance is NaN ("NaN" in JSON) when a batch's returns are all equal.
      assert.ok(Number.isFinite(line.value_loss as number) && (line.value_loss as number) >= 0, `value_loss ${line.value_loss}`);
      assert.ok(Number.isFinite(line.value_mean as number) && Number.isFinite(line.return_mean as number));
    }
    // Step 1 is the warm-up: no policy pass, so no policy loss; later steps train both.
    assert.ok(!Number.isFinite(metrics[0].loss as number), `warm-up loss ${metrics[0].loss}`);
    assert.ok(Number.isFinite(metrics[1].loss as number) && Number.isFinite(metrics[2].loss as number));
    for (const part of ['critic.json', 'value_head.safetensors', 'model.safetensors', 'optimizer.safetensors']) {
      assert.ok(existsSync(join(out, 'checkpoints', 'step-3', 'critic', part)), `the checkpoint has no critic/${part}`);
    }
  });

  it('N steps equal N/2 + resume + N/2: same policy, same critic, same metrics', async () => {
    const config = { steps: 4, numIterations: 2, saveEvery: 1 };
    const whole = join(tempDir(), 'whole');
    const split = join(tempDir(), 'split');
    await run(whole, config);
    await run(split, { ...config, steps: 2 });
    const resumed = await run(split, config, { resume: true });
    assert.equal(resumed.step, 4);
    assert.ok(file(whole, 4, 'model', 'model.safetensors').equals(file(split, 4, 'model', 'model.safetensors')), 'policy weights differ after resuming');
    for (const part of ['model.safetensors', 'value_head.safetensors', 'optimizer.safetensors']) {
      assert.ok(file(whole, 4, 'critic', part).equals(file(split, 4, 'critic', part)), `critic/${part} differs after resuming`);
    }
    assert.ok(!file(whole, 4, 'critic', 'value_head.safetensors').equals(file(whole, 3, 'critic', 'value_head.safetensors')), 'the critic did not train');
    assert.deepEqual(metricsWithoutTimes(split), metricsWithoutTimes(whole));
  });

  it('with LoRA the critic is adapters on the shared base, and resumes bit for bit', async () => {
    const whole = join(tempDir(), 'whole');
    const split = join(tempDir(), 'split');
    await run(whole, { steps: 2 }, { lora: true });
    await run(split, { steps: 1 }, { lora: true });
    await run(split, { steps: 2 }, { lora: true, resume: true });
    const critic = join(whole, 'checkpoints', 'step-2', 'critic');
    assert.ok(existsSync(join(critic, 'adapter_model.safetensors')));
    assert.ok(!existsSync(join(critic, 'model.safetensors')), 'a LoRA critic saves no copy of the base');
    for (const part of ['adapter_model.safetensors', 'value_head.safetensors']) {
      assert.ok(file(whole, 2, 'critic', part).equals(file(split, 2, 'critic', part)), `critic/${part} differs after resuming`);
    }
    assert.deepEqual(metricsWithoutTimes(split), metricsWithoutTimes(whole));
  });

  it('kl.inReward runs with a reference model; other algorithms refuse it', async () => {
    const out = join(tempDir(), 'kl');
    await run(out, { steps: 2, numIterations: 2, kl: { inReward: true, coef: 0.5, estimator: 'k3' } });
    const metrics = readJsonl(join(out, 'metrics.jsonl'));
    assert.ok(metrics.every((m) => Number.isFinite(m.return_mean as number) && Number.isFinite(m.value_loss as number)));
    // k3 is never negative, and the second pass of step 1 moved the policy off the reference.
    assert.ok(metrics.every((m) => (m.reward_kl as number) >= 0) && (metrics[1].reward_kl as number) > 0, JSON.stringify(metrics.map((m) => m.reward_kl)));
    await assert.rejects(
      train({ agent: await tinyAgent(), environment: environment(), rewards: rewards(), scenarios: SCENARIOS, config: { ...TINY_TRAINER, kl: { inReward: true } }, tracking: { console: false }, out: join(tempDir(), 'grpo') }),
      (err: Error & { code?: string }) => err.code === 'ERR_INVALID_CONFIG' && /kl.inReward/.test(err.message),
    );
  });
});

describe('per-token rewards', () => {
  it("put each turn's reward on its last sampled token and the episode reward on the last one", () => {
    // prompt [0, 3), turn 0 sampled [3, 6), user tokens [6, 8), turn 1 sampled [8, 10).
    const mask = Uint8Array.from([0, 0, 0, 1, 1, 1, 0, 0, 1, 1]);
    const trajectory = { mask, turns: [{ start: 3, end: 6 }, { start: 8, end: 10 }], turnRewards: Float32Array.of(0.5, 0.25), episodeReward: 1 } as unknown as Trajectory;
    assert.deepEqual(Array.from(tokenRewards(trajectory)), [0, 0, 0, 0, 0, 0.5, 0, 0, 0, 1.25]);
    // A masked (truncated) last turn: its rewards go to the last sampled token before it.
    const truncated = { ...trajectory, mask: Uint8Array.from([0, 0, 0, 1, 1, 1, 0, 0, 0, 0]) } as Trajectory;
    assert.deepEqual(Array.from(tokenRewards(truncated)), [0, 0, 0, 0, 0, 1.75, 0, 0, 0, 0]);
    // A missing turn reward adds nothing.
    assert.deepEqual(Array.from(tokenRewards({ ...trajectory, turnRewards: Float32Array.of(NaN, 0.25) } as Trajectory)), [0, 0, 0, 0, 0, 0, 0, 0, 0, 1.25]);
  });
});

describe('the PPO batch', () => {
  // prompt [0, 3), turn 0 sampled [3, 6), user tokens [6, 8), turn 1 sampled [8, 10).
  const mask = Uint8Array.from([0, 0, 0, 1, 1, 1, 0, 0, 1, 1]);
  const logprobs = Float32Array.from([0, 0, 0, -1, -2, -0.5, 0, 0, -1.5, -0.2]);
  const trajectory = {
    tokens: Int32Array.from([5, 9, 2, 11, 4, 7, 3, 8, 20, 6]),
    mask,
    logprobs,
    turns: [{ start: 3, end: 6 }, { start: 8, end: 10 }],
    turnRewards: Float32Array.of(0.5, 0),
    episodeReward: 1,
    reward: 1.5,
  } as unknown as Trajectory;

  it('GAE runs over the whole conversation, the user tokens carried through by the mask', async () => {
    const { model } = await tinyModel('llama', 3);
    const critic = await model.createCritic({ seed: 1 });
    const config = resolveConfig({ algorithm: 'ppo', ppo: { gamma: 0.9, lambdaActor: 0.8, lambdaCritic: 1, whitenAdvantages: false } });
    const batch = await preparePpo([trajectory], critic, config);
    const values = Float32Array.from([0, ...(await critic.values([trajectory.tokens]))[0]]);
    // The GAE recursion of ALGORITHMS.md section 2 by hand, over the action tokens only.
    const actions = [3, 4, 5, 8, 9];
    const r = tokenRewards(trajectory);
    const expected = new Array<number>(10).fill(0);
    const returns = new Array<number>(10).fill(0);
    let [nextV, last, lastCritic] = [0, 0, 0];
    for (const t of [...actions].reverse()) {
      const delta = r[t] + 0.9 * nextV - values[t];
      last = delta + 0.9 * 0.8 * last;
      lastCritic = delta + 0.9 * 1 * lastCritic;
      expected[t] = last;
      returns[t] = lastCritic + values[t];
      nextV = values[t];
    }
    assertClose((batch.policy.advantages as Float32Array[])[0], expected);
    assertClose(batch.critic.returns[0], returns);
    assertClose(batch.critic.oldValues![0], values);
    // The user tokens carry nothing: turn 0's last token bootstraps from turn 1's first value.
    assert.deepEqual([expected[6], expected[7]], [0, 0]);
  });

  it('kl.inReward subtracts coef * KL at every sampled token', async () => {
    const { model } = await tinyModel('llama', 3);
    const critic = await model.createCritic({ seed: 1 });
    const refLogprobs = [Float32Array.from(logprobs, (l, t) => (mask[t] ? l - 0.1 * t : 0))];
    const common = { algorithm: 'ppo' as const, ppo: { gamma: 1, lambdaCritic: 1, whitenAdvantages: false } };
    const without = await preparePpo([trajectory], critic, resolveConfig(common), refLogprobs);
    const withKl = await preparePpo([trajectory], critic, resolveConfig({ ...common, kl: { inReward: true, coef: 0.5, estimator: 'k1' } }), refLogprobs);
    // k1 = logp - logp_ref = 0.1 t; with gamma = lambda = 1 a return sums the rewards after it.
    const penalty = (t: number) => [3, 4, 5, 8, 9].filter((u) => u >= t).reduce((a, u) => a + 0.5 * 0.1 * u, 0);
    const expected = Array.from(without.critic.returns[0], (x, t) => (mask[t] ? x - penalty(t) : x));
    assertClose(withKl.critic.returns[0], expected);
  });
});

// A 5-step run of each preset on a tiny model writes a full run folder with finite metrics.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ALGORITHMS, train, type Algorithm } from '../src/index.js';
import { tinyAgent } from './helpers/tiny-agent.js';
import { tempDir } from './helpers/tiny-model.js';
import { SCENARIOS, TINY_TRAINER, environment, readJsonl, rewards } from './helpers/trainer.js';

const REQUIRED = ['step', 'reward_mean', 'reward_std', 'loss', 'grad_norm', 'clip_frac', 'entropy', 'completion_tokens_mean', 'frac_zero_std_groups', 'reward_failures', 'step_time_s', 'tokens_per_s'];

describe('each preset trains 5 steps on a tiny model', () => {
  for (const algorithm of ALGORITHMS) {
    it(algorithm, async () => {
      const out = join(tempDir(), 'run');
      const result = await train({
        agent: await tinyAgent(),
        environment: environment(),
        rewards: rewards(),
        scenarios: SCENARIOS,
        evalScenarios: SCENARIOS.slice(0, 1),
        algorithm,
        config: { ...TINY_TRAINER, steps: 5, evalEvery: 5, saveEvery: 2, keepLast: 2 },
        tracking: { console: false },
        out,
      });
      assert.equal(result.step, 5);
      assert.equal(result.stopped, false);
      const metrics = readJsonl(join(out, 'metrics.jsonl'));
      assert.deepEqual(metrics.map((m) => m.step), [1, 2, 3, 4, 5]);
      for (const line of metrics) {
        for (const key of REQUIRED) assert.ok(key in line, `${algorithm}: metrics.jsonl lacks ${key}`);
        if (algorithm !== 'dapo' || line.groups_trained) assert.ok(Number.isFinite(line.loss), `${algorithm} step ${line.step}: loss ${line.loss}`);
      }
      assert.equal(readJsonl(join(out, 'eval.jsonl')).length, 1);
      assert.equal(readJsonl(join(out, 'samples.jsonl')).length, 5);
      // keepLast 2 of the checkpoints at steps 2, 4 and 5.
      assert.ok(!existsSync(join(out, 'checkpoints', 'step-2')));
      for (const step of [4, 5]) assert.ok(existsSync(join(out, 'checkpoints', `step-${step}`, 'COMPLETE')));
    });
  }
});

describe('algorithm details', () => {
  it('beta > 0 loads a frozen reference model and logs kl', async () => {
    const out = join(tempDir(), 'run');
    await train({
      agent: await tinyAgent(),
      environment: environment(),
      rewards: rewards(),
      scenarios: SCENARIOS,
      config: { ...TINY_TRAINER, steps: 2, numIterations: 2, loss: { beta: 0.1 } },
      tracking: { console: false },
      out,
    });
    const metrics = readJsonl(join(out, 'metrics.jsonl'));
    // The second pass of step 1 moves the policy away from the reference: KL > 0 by step 2.
    assert.ok(metrics.every((m) => typeof m.kl === 'number' && m.kl >= 0));
    assert.ok((metrics[1].kl as number) > 0, `kl ${metrics[1].kl}`);
  });

  it('SFT from a dataset of conversations trains on the assistant messages', async () => {
    const out = join(tempDir(), 'run');
    const dataset = [
      { messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello! How can I help?' }] },
      { messages: [{ role: 'user', content: 'Refund?' }, { role: 'assistant', content: 'Sure, I can help with that.' }, { role: 'user', content: 'Thanks' }, { role: 'assistant', content: 'You are welcome.' }] },
    ];
    const result = await train({ agent: await tinyAgent(), dataset, algorithm: 'sft', config: { ...TINY_TRAINER, steps: 6, learningRate: 1e-2 }, tracking: { console: false }, out });
    const losses = readJsonl(join(out, 'metrics.jsonl')).map((m) => m.loss as number);
    assert.equal(result.step, 6);
    assert.ok(losses.at(-1)! < losses[0], `SFT loss did not fall: ${losses.join(', ')}`);
  });

  it('DAPO drops groups whose rewards are all equal', async () => {
    const out = join(tempDir(), 'run');
    const algorithm: Algorithm = 'dapo';
    await train({
      agent: await tinyAgent(),
      environment: environment(),
      rewards: [{ name: 'constant', scope: 'episode', score: () => 1 }],
      scenarios: SCENARIOS,
      algorithm,
      config: { ...TINY_TRAINER, steps: 1, overlong: { enabled: false } },
      tracking: { console: false },
      out,
    });
    const [line] = readJsonl(join(out, 'metrics.jsonl'));
    // Every group is dropped, in the first round and in each of the 3 extra rounds.
    assert.equal(line.sampling_rounds, 4);
    assert.equal(line.frac_zero_std_groups, 1);
    assert.equal(line.groups_trained, 0);
  });
});

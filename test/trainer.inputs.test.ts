// What the trainer takes and checks before a run: gamma reaches turn-level credit, Dr.
// GRPO's L_max is one constant for the whole run, sampling options the loss does not model
// are refused, every scenario is checked before anything is written, and a run folder left
// by a run that failed before its first checkpoint can be started again.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Agent, ConversationEnvironment, resolveConfig, train, type Model, type RewardFunction, type TrainBatch, type TrainStepConfig, type TrainStepMetrics } from '../src/index.js';
import { throwsCode } from './helpers/errors.js';
import { tinyAgent, tinyModelDir } from './helpers/tiny-agent.js';
import { tempDir } from './helpers/tiny-model.js';
import { SCENARIOS, TINY_TRAINER, environment, readJsonl, rewards } from './helpers/trainer.js';

/** Records every trainStep the trainer makes on `agent`'s model (the real step still runs). */
function recordSteps(agent: Agent): Array<{ batch: TrainBatch; config: TrainStepConfig; metrics: TrainStepMetrics }> {
  const model = agent.policy as Model;
  const trainStep = model.trainStep.bind(model);
  const calls: Array<{ batch: TrainBatch; config: TrainStepConfig; metrics: TrainStepMetrics }> = [];
  model.trainStep = async (batch, config) => {
    const metrics = await trainStep(batch, config);
    calls.push({ batch, config, metrics });
    return metrics;
  };
  return calls;
}

const lossTokens = (mask: Uint8Array) => mask.reduce((n, m) => n + m, 0);

/** A reward that differs between members: the replies' length in characters. */
const replyLength: RewardFunction = { name: 'reply_length', scope: 'turn', score: (turn) => turn.assistant.content.length / 10 };

describe('gamma', () => {
  it('is a discount in [0, 1], 1 by default', () => {
    assert.equal(resolveConfig({}).gamma, 1);
    throwsCode(() => resolveConfig({ gamma: 1.5 }), 'ERR_INVALID_CONFIG', /gamma: expected a number <= 1, got 1\.5/);
  });

  it('reaches turn-level credit: the same rollouts get other advantages with another gamma', async () => {
    const advantages = async (gamma: number) => {
      const agent = await tinyAgent();
      const calls = recordSteps(agent);
      await train({
        agent,
        environment: new ConversationEnvironment({ maxTurns: 3 }),
        rewards: [replyLength],
        scenarios: [{ id: 'three', userTurns: ['Hi', 'Where is my order?', 'Thanks'] }],
        config: { ...TINY_TRAINER, steps: 1, batchSize: 1, groupSize: 3, creditAssignment: 'turn', gamma },
        tracking: { console: false, tensorboard: false },
        out: join(tempDir(), 'run'),
      });
      return { sequences: calls[0].batch.sequences, advantages: calls[0].batch.advantages as Float32Array[] };
    };
    const [undiscounted, discounted] = [await advantages(1), await advantages(0)];
    assert.deepEqual(discounted.sequences, undiscounted.sequences, 'the same seed gives the same rollouts');
    assert.notDeepEqual(discounted.advantages, undiscounted.advantages);
  });
});

describe('loss.maxCompletionLength (L_max of seq-mean-token-sum-norm)', () => {
  it('must be a positive integer', () => {
    throwsCode(() => resolveConfig({ loss: { maxCompletionLength: 0 } }), 'ERR_INVALID_CONFIG', /loss\.maxCompletionLength: expected a positive integer, got 0/);
    throwsCode(() => resolveConfig({ loss: { maxCompletionLength: 2.5 } }), 'ERR_INVALID_CONFIG', /loss\.maxCompletionLength: expected .*integer, got 2\.5/);
  });

  it('defaults to maxNewTokens x maxTurns and stays the same in every step, whatever each batch\'s longest completion', async () => {
    const agent = await tinyAgent();
    const calls = recordSteps(agent);
    const out = join(tempDir(), 'run');
    const result = await train({
      agent,
      // One scenario of one user line, one of two: their episodes have 1 and 2 turns.
      environment: new ConversationEnvironment({ maxTurns: 2 }),
      rewards: [replyLength],
      scenarios: [{ id: 'short', userTurns: ['Hi'] }, { id: 'long', userTurns: ['Hi', 'Where is my order?'] }],
      algorithm: 'dr_grpo',
      config: { ...TINY_TRAINER, steps: 4, batchSize: 1, groupSize: 2 },
      tracking: { console: false, tensorboard: false },
      out,
    });
    const expected = TINY_TRAINER.generation!.maxNewTokens! * 2;
    assert.equal(result.config.loss.maxCompletionLength, expected);
    assert.equal(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).trainer.loss.maxCompletionLength, expected);
    assert.equal(calls.length, 4);
    const longest = calls.map((c) => Math.max(...c.batch.masks.map(lossTokens)));
    assert.ok(new Set(longest).size > 1, `every batch had the same longest completion (${longest}); the test needs them to differ`);
    for (const { config } of calls) {
      assert.equal(config.aggregation, 'seq-mean-token-sum-norm');
      assert.equal(config.maxCompletionLength, expected);
    }
  });

  it('is the normalizer the step uses: the loss is sum / (sequences x L_max), not / the batch\'s longest', async () => {
    const model = (await tinyAgent()).policy as Model;
    const sequences = ['Where is my order?', 'Thanks'].map((t) => model.tokenize(t));
    const masks = sequences.map((s) => Uint8Array.from(s, (_, i) => (i >= 1 ? 1 : 0)));
    const nll = (await model.score(sequences)).reduce((sum, s) => sum - s.logprobs.reduce((a, b) => a + b, 0), 0);
    const m = await model.trainStep({ sequences, masks }, { learningRate: 1e-3, loss: 'sft', aggregation: 'seq-mean-token-sum-norm', maxCompletionLength: 40 });
    assert.ok(Math.max(...masks.map(lossTokens)) < 40);
    assert.ok(Math.abs(m.loss - nll / (2 * 40)) < 1e-4 * Math.abs(m.loss), `${m.loss} vs ${nll / 80}`);
  });
});

describe('sampling options the loss does not model', () => {
  it('an agent with a repetition penalty is refused for training, saying what to do', async () => {
    const agent = await Agent.create({ model: tinyModelDir(), generation: { repetitionPenalty: 1.3 } });
    const out = join(tempDir(), 'run');
    await assert.rejects(
      train({ agent, environment: environment(), rewards: rewards(), scenarios: SCENARIOS, config: TINY_TRAINER, out }),
      (err: Error & { code?: string }) =>
        err.code === 'ERR_INVALID_CONFIG' && /repetitionPenalty is 1\.3, but training needs 1/.test(err.message) && /Remove repetitionPenalty from the agent you train/.test(err.message),
    );
    assert.ok(!existsSync(out));
  });

  it('LoRA dropout is refused (the adapters have none); 0 is accepted', async () => {
    await assert.rejects(Agent.create({ model: tinyModelDir(), lora: { rank: 4, alpha: 8, dropout: 0.1 as 0 } }), (err: Error & { code?: string }) =>
      err.code === 'ERR_INVALID_CONFIG' && /lora\.dropout: LoRA dropout is not implemented .*remove lora\.dropout or set it to 0/.test(err.message),
    );
    const agent = await Agent.create({ model: tinyModelDir(), lora: { rank: 4, alpha: 8, dropout: 0 } });
    assert.equal(agent.config.lora?.dropout, 0);
  });
});

describe('scenarios are checked before a run writes anything', () => {
  for (const [what, scenario, message] of [
    ['without userTurns for the scripted user', { id: 'silent' }, /scenarios\.1 \(id silent\) has no userTurns/],
    ['with a misspelt field', { id: 'typo', userTurn: ['hi'] }, /scenarios\.1\.userTurn: unknown key, did you mean "userTurns"\?/],
  ] as const) {
    it(`a scenario ${what}`, async () => {
      const out = join(tempDir(), 'run');
      await assert.rejects(
        train({ agent: await tinyAgent(), environment: environment(), rewards: rewards(), scenarios: [SCENARIOS[0], scenario], config: TINY_TRAINER, out }),
        (err: Error & { code?: string }) => err.code === 'ERR_INVALID_CONFIG' && message.test(err.message),
      );
      assert.ok(!existsSync(out), 'the run folder was written');
    });
  }

  it('evaluation scenarios too', async () => {
    const out = join(tempDir(), 'run');
    await assert.rejects(
      train({ agent: await tinyAgent(), environment: environment(), scenarios: SCENARIOS, evalScenarios: [{ persona: 'a customer' }], config: TINY_TRAINER, out }),
      /evalScenarios\.0 has no userTurns/,
    );
    assert.ok(!existsSync(out));
  });
});

describe('a run folder whose run failed before its first checkpoint', () => {
  it('is reused by a fresh run, which says so; --resume says how to start it again', async () => {
    const out = join(tempDir(), 'run');
    // An environment that fails at the first rollout: the run stops before any checkpoint.
    const broken = environment();
    broken.step = async () => {
      throw new Error('the user simulator went away');
    };
    await assert.rejects(train({ agent: await tinyAgent(), environment: broken, rewards: rewards(), scenarios: SCENARIOS, config: TINY_TRAINER, tracking: { console: false }, out }), /went away/);
    assert.ok(existsSync(join(out, 'config.json')) && !existsSync(join(out, 'checkpoints', 'step-1')));

    await assert.rejects(
      train({ agent: await tinyAgent(), environment: environment(), rewards: rewards(), scenarios: SCENARIOS, config: TINY_TRAINER, tracking: { console: false }, out, resume: true }),
      (err: Error & { code?: string }) => err.code === 'ERR_INVALID_CHECKPOINT' && /stopped before its first checkpoint\. Start it afresh in the same folder/.test(err.message),
    );

    const notices: string[] = [];
    const result = await train({ agent: await tinyAgent(), environment: environment(), rewards: rewards(), scenarios: SCENARIOS, config: { ...TINY_TRAINER, steps: 2 }, tracking: { console: false, warn: (line) => notices.push(line) }, out });
    assert.equal(result.step, 2);
    assert.ok(notices.some((n) => n.includes(`${out} holds a run that stopped before its first checkpoint: starting afresh in it`)), notices.join('\n'));
    assert.deepEqual(readJsonl(join(out, 'metrics.jsonl')).map((m) => m.step), [1, 2]);
    assert.ok(existsSync(join(out, 'checkpoints', 'step-2', 'COMPLETE')));

    // Now it has a checkpoint: a fresh run is refused, and resuming works.
    await assert.rejects(
      train({ agent: await tinyAgent(), environment: environment(), rewards: rewards(), scenarios: SCENARIOS, config: TINY_TRAINER, tracking: { console: false }, out }),
      /already holds a run with a checkpoint at step 2: continue it with --resume/,
    );
  });
});

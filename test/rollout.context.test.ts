// Inputs that used to take a run down: multi-turn episodes that outgrow the model's
// context (512 positions on the tiny model) and rewards beyond the float32 range. Each
// ends or spoils only its own episode; the batch and the run go on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { collectRollouts, ConversationEnvironment, combineRewards, rewardFunction, tokenAdvantages, train, type Trajectory } from '../src/index.js';
import { maskTruncatedTurns } from '../src/train/shaping.js';
import { tinyAgent } from './helpers/tiny-agent.js';
import { tempDir } from './helpers/tiny-model.js';
import { readJsonl, TINY_TRAINER } from './helpers/trainer.js';

const POSITIONS = 512;
const talkative = { id: 'long', userTurns: Array.from({ length: 12 }, (_, i) => `Question number ${i + 1}: what else can you tell me?`) };
const brief = { id: 'short', userTurns: ['Hello.'] };
// A first message alone longer than the context (the tiny tokenizer spends about a token per 2-3 characters).
const oversized = { id: 'oversized', userTurns: ['Please read all of this. '.repeat(80)] };
const turnCount = rewardFunction({ name: 'turns', scope: 'episode', score: (e) => e.turns.length });

const lossTokens = (t: Trajectory) => t.mask.reduce((a, b) => a + b, 0);

test('a 12-turn conversation on a 512-position model ends at the context; the rest of the batch is untouched', async () => {
  const agent = await tinyAgent('llama', { generation: { maxNewTokens: 48 } });
  assert.equal(agent.policy.config.maxPositionEmbeddings, POSITIONS);
  const env = new ConversationEnvironment({ maxTurns: 12 });
  const rewards = combineRewards([turnCount], { log: () => {} });
  const batch = await collectRollouts(agent, env, [talkative, brief, oversized], { groupSize: 2, concurrency: 6, rewards });

  const [long, short, over] = [0, 1, 2].map((g) => batch.trajectories.filter((t) => t.group === g));
  for (const t of long) {
    assert.equal(t.doneReason, 'context');
    assert.ok(t.turns.length > 1 && t.turns.length < 12, `${t.turns.length} turns`);
    assert.ok(t.tokens.length <= POSITIONS, `${t.tokens.length} tokens`);
    assert.equal(t.tokens.length, t.turns.at(-1)!.end, 'the trajectory ends at its last sampled token');
    const last = t.turns.at(-1)!;
    assert.equal(last.finishReason, 'context', 'the turn that reached the context says so');
    assert.ok(last.end - last.start < 48, 'it was given only the positions left');
    assert.ok(t.turns.slice(0, -1).every((turn) => turn.finishReason !== 'context'));
    assert.equal(t.episodeReward, t.turns.length, 'its reward is still computed');
  }
  for (const t of short) {
    assert.equal(t.doneReason, 'user_done');
    assert.deepEqual(t.turns.map((turn) => turn.finishReason === 'context'), [false]);
  }
  // A prompt past the context: no turns, at most the context's tokens, nothing to train on; still scored.
  for (const t of over) {
    assert.equal(t.doneReason, 'context');
    assert.equal(t.turns.length, 0);
    assert.ok(t.tokens.length <= POSITIONS && t.promptLength === t.tokens.length);
    assert.equal(lossTokens(t), 0);
    assert.equal(t.reward, 0);
  }

  // The turn cut by the context leaves the loss; the trajectory with no loss tokens leaves the statistics.
  const shaped = batch.trajectories.map((t) => maskTruncatedTurns(t, ['context']));
  for (const t of shaped.filter((x) => x.group === 0)) {
    const last = t.turns.at(-1)!;
    assert.ok(t.mask.subarray(last.start, last.end).every((m) => m === 0));
    assert.ok(t.mask.subarray(t.turns[0].start, t.turns[0].end).every((m) => m === 1));
  }
  const advantages = tokenAdvantages(shaped, { creditAssignment: 'turn' });
  assert.ok(advantages.every((a) => a.every(Number.isFinite)));
  assert.ok(advantages.slice(4).every((a) => a.every((x) => x === 0)));
});

test('training on conversations that outgrow the context runs every step', async () => {
  const out = join(tempDir(), 'run');
  const result = await train({
    agent: await tinyAgent('llama'),
    environment: new ConversationEnvironment({ maxTurns: 12 }),
    rewards: [turnCount],
    scenarios: [talkative, oversized],
    config: { ...TINY_TRAINER, steps: 2, batchSize: 2, groupSize: 2, generation: { maxNewTokens: 48 } },
    tracking: { console: false },
    out,
  });
  assert.equal(result.step, 2);
  for (const line of readJsonl(join(out, 'metrics.jsonl'))) assert.ok(Number.isFinite(line.loss), `step ${line.step}: loss ${line.loss}`);
});

test('a reward function returning 1e39 is a failed call: the run goes on and counts it', async () => {
  const out = join(tempDir(), 'run');
  let calls = 0;
  const huge = rewardFunction({ name: 'huge', scope: 'episode', score: () => (calls++ % 2 ? 1e39 : calls) });
  const result = await train({
    agent: await tinyAgent('llama'),
    environment: new ConversationEnvironment({ maxTurns: 1 }),
    rewards: [huge],
    scenarios: [brief, { id: 'other', userTurns: ['Hi there.'] }],
    config: { ...TINY_TRAINER, steps: 2, batchSize: 2, groupSize: 4 },
    tracking: { console: false },
    out,
  });
  assert.equal(result.step, 2);
  const metrics = readJsonl(join(out, 'metrics.jsonl'));
  assert.ok(metrics.every((m) => Number.isFinite(m.loss)));
  assert.equal(metrics.reduce((n, m) => n + (m.reward_failures as number), 0), Math.floor(calls / 2));
});

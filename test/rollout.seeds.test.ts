// Every sampled turn of a rollout draws from its own seed (batch seed, scenario, member,
// turn): members of a group are independent samples, and how the episodes are batched
// (the rollout concurrency) does not change what they draw.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { collectRollouts, ConversationEnvironment, type Model, type Trajectory } from '../src/index.js';
import { sampleSeed } from '../src/train/seeds.js';
import { rejectsCode } from './helpers/errors.js';
import { tinyAgent } from './helpers/tiny-agent.js';

const scenarios = [
  { id: 'order', userTurns: ['Where is my order?', 'It is late.'] },
  { id: 'refund', userTurns: ['I want a refund.', 'Order A1.'] },
];

/** What a trajectory is, minus the log-probs (compared with a tolerance). */
const shape = (t: Trajectory) => ({
  group: t.group,
  member: t.member,
  tokens: Array.from(t.tokens),
  mask: Array.from(t.mask),
  turns: t.turns.map((turn) => [turn.start, turn.end, turn.finishReason]),
  doneReason: t.doneReason,
});

test('the same groups at concurrency 1, 4 and 16 give identical trajectories, every member distinct', async () => {
  // Extra stop ids end some turns early, so episodes finish at different waves.
  const stopTokenIds = Array.from({ length: 40 }, (_, i) => 100 + i);
  const agent = await tinyAgent('llama', { generation: { maxNewTokens: 10, stopTokenIds } });
  const env = new ConversationEnvironment({ maxTurns: 2 });
  const runs = [];
  for (const concurrency of [1, 4, 16]) {
    runs.push(await collectRollouts(agent, env, scenarios, { groupSize: 8, concurrency, generation: { seed: 1234 } }));
  }
  assert.deepEqual(runs.map((r) => r.stats.generateCalls > 0), [true, true, true]);
  assert.ok(runs[0].stats.generateCalls > runs[2].stats.generateCalls, 'the runs were batched differently');
  const [reference, ...others] = runs.map((r) => r.trajectories);
  for (const other of others) {
    assert.deepEqual(other.map(shape), reference.map(shape));
    other.forEach((t, i) => t.logprobs.forEach((lp, p) => assert.ok(Math.abs(lp - reference[i].logprobs[p]) < 1e-5)));
  }
  for (const group of [0, 1]) {
    const members = reference.filter((t) => t.group === group).map((t) => Array.from(t.tokens).join(','));
    assert.equal(new Set(members).size, 8, `group ${group}: all 8 members sample differently`);
  }
  // Another batch seed, other samples.
  const reseeded = await collectRollouts(agent, env, scenarios, { groupSize: 8, concurrency: 16, generation: { seed: 1235 } });
  assert.notDeepEqual(reseeded.trajectories.map(shape), reference.map(shape));
});

test('sample seeds differ across scenario, member and turn, and stay below 2^53', () => {
  const seeds = [];
  for (const group of [0, 1, 2, 3]) for (let member = 0; member < 16; member++) for (const turn of [0, 1, 2, 3]) seeds.push(sampleSeed(77, group, member, turn));
  assert.equal(new Set(seeds).size, seeds.length);
  assert.ok(seeds.every((s) => Number.isSafeInteger(s) && s >= 0));
  assert.notEqual(sampleSeed(77, 0, 0, 0), sampleSeed(78, 0, 0, 0));
  assert.equal(sampleSeed(2 ** 40 + 3, 1, 2, 3), sampleSeed(2 ** 40 + 3, 1, 2, 3));
});

test('Model.generate with one seed per prompt: a prompt draws the same tokens alone or batched', async () => {
  const agent = await tinyAgent('llama');
  const model = agent.policy as Model;
  const prompts = ['Hello there', 'Where is my order?', 'Hi'].map((text) => model.tokenize(text));
  const options = { maxNewTokens: 12, temperature: 1, stopTokenIds: [] };
  const batched = await model.generate(prompts, { ...options, seeds: [5, 6, 7] });
  const reversed = await model.generate([...prompts].reverse(), { ...options, seeds: [7, 6, 5] });
  for (const [i, prompt] of prompts.entries()) {
    const [alone] = await model.generate([prompt], { ...options, seeds: [5 + i] });
    assert.deepEqual(Array.from(batched[i].tokens), Array.from(alone.tokens));
    assert.deepEqual(Array.from(reversed[2 - i].tokens), Array.from(alone.tokens));
  }
  const same = await model.generate([prompts[0], prompts[0]], { ...options, seeds: [1, 2] });
  assert.notDeepEqual(Array.from(same[0].tokens), Array.from(same[1].tokens));
  // Without seeds, the single seed still decides every row (the chat, serve and eval path).
  const a = await model.generate(prompts, { ...options, seed: 9 });
  const b = await model.generate(prompts, { ...options, seed: 9 });
  assert.deepEqual(a.map((c) => Array.from(c.tokens)), b.map((c) => Array.from(c.tokens)));

  await rejectsCode(() => model.generate(prompts, { ...options, seeds: [1, 2] }), 'ERR_INVALID_PARAMETER', /one seed per prompt \(3\), got 2 seeds/);
  await rejectsCode(() => model.generate(prompts, { ...options, seeds: [1, -2, 3] }), 'ERR_INVALID_PARAMETER', /seeds\[1\]/);
  await rejectsCode(() => model.generate(prompts, { ...options, seeds: [1, 2.5, 3] }), 'ERR_INVALID_PARAMETER', /seeds\[1\] must be an integer/);
});

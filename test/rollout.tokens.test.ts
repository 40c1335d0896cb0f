// Multi-turn rollouts on real tiny models, token in, token out: the mask is 1 exactly on
// the ids the policy sampled, their log-probs are the policy's, and the text between
// turns is the chat template's, tokenized once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { collectRollouts, ConversationEnvironment, politeness, combineRewards, type Model, type Trajectory } from '../src/index.js';
import { tinyAgent } from './helpers/tiny-agent.js';

const scenarios = [
  { id: 'a', userTurns: ['Where is my order?', 'It is late.', 'Thanks.'] },
  { id: 'b', userTurns: ['I want a refund.', 'Order A1.', 'Ok.'] },
];

function runsOfMask(t: Trajectory): Array<{ value: number; start: number; end: number }> {
  const runs: Array<{ value: number; start: number; end: number }> = [];
  t.mask.forEach((m, i) => (runs.at(-1)?.value === m ? (runs.at(-1)!.end = i + 1) : runs.push({ value: m, start: i, end: i + 1 })));
  return runs;
}

for (const arch of ['llama', 'gpt2'] as const) {
  test(`${arch}: masks cover exactly the sampled turns; template and user tokens are masked out`, async () => {
    // Extra stop ids make about half the turns end on a sampled stop token, half on the length limit.
    const stopTokenIds = Array.from({ length: 40 }, (_, i) => 100 + i);
    const agent = await tinyAgent(arch, { systemPrompt: 'You are a support agent.', generation: { maxNewTokens: 12, stopTokenIds } });
    const imEnd = agent.policy.tokenize('<|im_end|>')[0];
    const env = new ConversationEnvironment({ maxTurns: 3 });
    const batch = await collectRollouts(agent, env, scenarios, { groupSize: 2, concurrency: 4 });

    assert.equal(batch.trajectories.length, 4);
    assert.deepEqual(batch.trajectories.map((t) => [t.group, t.member]), [[0, 0], [0, 1], [1, 0], [1, 1]]);
    assert.equal(batch.stats.generateCalls, 3, 'one batched engine call per turn wave');

    for (const t of batch.trajectories) {
      assert.equal(t.turns.length, 3);
      assert.equal(t.doneReason, 'max_turns');
      assert.equal(t.mask.length, t.tokens.length);
      assert.equal(t.logprobs.length, t.tokens.length);

      // The prompt is the rendered opening conversation, all masked out.
      const opening = agent.template.render(t.messages.slice(0, 2), { addGenerationPrompt: true });
      assert.deepEqual(Array.from(t.tokens.subarray(0, t.promptLength)), Array.from(agent.policy.tokenize(opening)));

      // Mask-1 runs are exactly the turns' sampled spans.
      const sampled = runsOfMask(t).filter((r) => r.value === 1);
      assert.deepEqual(sampled.map((r) => [r.start, r.end]), t.turns.map((turn) => [turn.start, turn.end]));
      t.mask.forEach((m, i) => assert.ok(m ? t.logprobs[i] <= 0 && Number.isFinite(t.logprobs[i]) : t.logprobs[i] === 0));

      // Between turns: the template's closing (unless the policy sampled <|im_end|> itself),
      // the user's line, the next assistant header.
      t.turns.slice(0, -1).forEach((turn, k) => {
        const between = agent.policy.detokenize(t.tokens.subarray(turn.end, t.turns[k + 1].start));
        const last = t.tokens[turn.end - 1];
        const closing = turn.finishReason === 'stop' && last === imEnd ? '' : '<|im_end|>';
        assert.equal(between, `${closing}\n<|im_start|>user\n${turn.replies[0].content}<|im_end|>\n<|im_start|>assistant\n`);
        if (turn.finishReason === 'stop') assert.ok(agent.stopTokenIds.includes(last), 'the sampled stop token is kept, mask 1');
      });
      // The messages hold what was decoded from the sampled ids.
      t.turns.forEach((turn) => assert.equal(turn.assistant.content, agent.decode(t.tokens.subarray(turn.start, turn.end))));
    }
    const finishes = new Set(batch.trajectories.flatMap((t) => t.turns.map((turn) => turn.finishReason)));
    assert.deepEqual([...finishes].sort(), ['length', 'stop'], 'both ways a turn ends were exercised');
  });
}

test('rollout log-probs are the policy scores of the very tokens in the sequence', async () => {
  const agent = await tinyAgent('llama', { generation: { maxNewTokens: 10 } });
  const batch = await collectRollouts(agent, new ConversationEnvironment({ maxTurns: 2 }), scenarios, { groupSize: 2 });
  const model = agent.policy as Model;
  const scored = await model.score(batch.trajectories.map((t) => t.tokens), { start: 1 });
  batch.trajectories.forEach((t, i) => {
    let worst = 0;
    t.mask.forEach((m, p) => m && (worst = Math.max(worst, Math.abs(scored[i].logprobs[p - 1] - t.logprobs[p]))));
    assert.ok(worst < 2e-3, `trajectory ${i}: rollout and score log-probs differ by ${worst}`);
  });
  const [first, second] = batch.trajectories;
  assert.notDeepEqual(Array.from(first.tokens), Array.from(second.tokens), 'members of a group sample differently');
});

test('rewards are scored per group; a context budget ends long episodes', async () => {
  const agent = await tinyAgent('llama', { generation: { maxNewTokens: 8 } });
  const env = new ConversationEnvironment({ maxTurns: 3 });
  const rewards = combineRewards([politeness({ scope: 'turn' }), { reward: { name: 'turns', scope: 'episode', score: (e) => e.turns.length }, weight: 1 }]);
  const budget = 40;
  const batch = await collectRollouts(agent, env, scenarios.slice(0, 1), { groupSize: 3, rewards, maxEpisodeTokens: budget });
  for (const t of batch.trajectories) {
    assert.equal(t.doneReason, 'context');
    assert.ok(t.tokens.length <= budget);
    assert.equal(t.tokens.length, t.turns.at(-1)!.end, 'the trajectory ends at its last sampled token');
    assert.equal(t.episodeReward, t.turns.length);
    assert.equal(t.reward, t.episodeReward + t.turnRewards.reduce((a, b) => a + b, 0));
    assert.deepEqual(Object.keys(t.rewardScores), ['turns', 'politeness']);
  }
  assert.equal(batch.stats.rewardCalls?.turns.calls, 3);
});

test('bad rollout options are refused', async () => {
  const agent = await tinyAgent('llama');
  await assert.rejects(collectRollouts(agent, new ConversationEnvironment(), scenarios, { groupSize: 0 }), /groupSize must be a positive integer/);
  await assert.rejects(collectRollouts(agent, new ConversationEnvironment(), []), /non-empty array of scenarios/);
});

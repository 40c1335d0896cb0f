// Reward composition (ALGORITHMS.md section 6) and failure handling: a reward function
// that throws, returns NaN or hangs is counted, logged once, and treated as missing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { combineRewards, combineScores, groupAdvantages, rewardFunction, StatesetError, type Episode, type RewardFunction, type Turn } from '../src/index.js';
import { episodeOf } from './helpers/episodes.js';

const close = (actual: ArrayLike<number>, expected: number[]) => {
  assert.equal(actual.length, expected.length);
  expected.forEach((e, i) => (Number.isNaN(e) ? assert.ok(Number.isNaN(actual[i]), `[${i}] should be NaN`) : assert.ok(Math.abs(actual[i] - e) < 1e-5, `[${i}] ${actual[i]} != ${e}`)));
};

test('combineScores: weighted sum skips failed scores; all failed is missing', () => {
  close(combineScores([[1, NaN, NaN], [2, 2, NaN]], [1, 0.5], 'weighted_sum'), [2, 1, NaN]);
});

test('combineScores: min and max of the weighted scores', () => {
  close(combineScores([[1, 3], [2, NaN]], [1, 1], 'min'), [1, 3]);
  close(combineScores([[1, 3], [2, NaN]], [1, 2], 'max'), [4, 3]);
});

test('combineScores: normalize_then_sum z-scores each function within the group first', () => {
  // f0 = [1, 0, 0, 1] -> +-0.865875 (sample std, eps 1e-4, as the grpo test vector); f1 constant -> 0.
  close(combineScores([[1, 0, 0, 1], [5, 5, 5, 5]], [1, 1], 'normalize_then_sum'), [0.865875, -0.865875, -0.865875, 0.865875]);
  // a failed score is left out of its function's statistics
  close(combineScores([[1, 0, NaN, 1, 0]], [2], 'normalize_then_sum'), [1.731750, -1.731750, NaN, 1.731750, -1.731750]);
});

const length = rewardFunction({ name: 'length', scope: 'episode', score: (e: Episode) => e.turns.length });
const judged = rewardFunction({ name: 'judged', scope: 'episode', score: async (e: Episode) => ({ score: e.turns.length * 10, components: { raw: 1 }, explanation: 'fine' }) });

test('episode and turn rewards add up to R, with the environment reward per turn', async () => {
  const perTurn = rewardFunction({ name: 'turn_words', scope: 'turn', score: (t) => t.assistant.content.split(' ').length });
  const rewards = combineRewards([length, { reward: perTurn, weight: 0.5 }], { log: () => {} });
  const episodes = [episodeOf(['a b', { text: 'c', envReward: 1 }]), episodeOf(['a b c d'])];
  const scored = await rewards.scoreGroup(episodes);
  close(scored.episodeRewards, [2, 1]);
  close(scored.turnRewards[0], [1, 0.5 + 1]);
  close(scored.turnRewards[1], [2]);
  close(scored.rewards, [2 + 2.5, 1 + 2]);
  assert.deepEqual(scored.scores, [{ length: 2, turn_words: 1.5 }, { length: 1, turn_words: 4 }]);
});

test('detailed results count by their score', async () => {
  const scored = await combineRewards([judged]).scoreGroup([episodeOf(['x', 'y'])]);
  close(scored.rewards, [20]);
});

test('throwing, NaN and hanging functions are missing scores, counted and logged once each', async () => {
  const lines: string[] = [];
  let calls = 0;
  const flaky = rewardFunction({
    name: 'flaky',
    scope: 'episode',
    score: (e: Episode) => {
      calls++;
      if (e.turns.length === 1) throw new Error('judge unreachable');
      if (e.turns.length === 2) return NaN;
      return new Promise<number>(() => {}); // never settles
    },
  });
  const alwaysFails = rewardFunction({ name: 'always_fails', scope: 'episode', score: () => { throw new Error('bug'); } });
  const rewards = combineRewards([length, flaky], { timeoutMs: 40, log: (l) => lines.push(l) });
  const group = [episodeOf(['a']), episodeOf(['a', 'b']), episodeOf(['a', 'b', 'c']), episodeOf(['a'])];
  const scored = await rewards.scoreGroup(group);
  close(scored.rewards, [1, 2, 3, 1]); // flaky skipped everywhere, length still counts
  assert.equal(calls, 4);
  const stats = rewards.stats();
  assert.deepEqual(stats.flaky.failures, { error: 2, nan: 1, timeout: 1 });
  assert.equal(stats.flaky.calls, 4);
  assert.deepEqual(stats.length.failures, { error: 0, nan: 0, timeout: 0 });
  assert.equal(lines.length, 3, 'one line per kind of failure');
  assert.match(lines.join('\n'), /reward flaky failed \(error: judge unreachable\)/);
  assert.match(lines.join('\n'), /timeout: timed out after 40 ms/);

  const allFailed = await combineRewards([alwaysFails], { log: () => {} }).scoreGroup([episodeOf(['a'])]);
  close(allFailed.rewards, [NaN]);
});

test('a score beyond the float32 range is a failed call, counted like NaN', async () => {
  const lines: string[] = [];
  const huge = rewardFunction({ name: 'huge', scope: 'episode', score: (e: Episode) => [1e39, -1e39, { score: 3.5e38 }, 2][e.turns.length - 1] });
  const rewards = combineRewards([huge], { log: (l) => lines.push(l) });
  const scored = await rewards.scoreGroup([episodeOf(['a']), episodeOf(['a', 'b']), episodeOf(['a', 'b', 'c']), episodeOf(['a', 'b', 'c', 'd'])]);
  close(scored.rewards, [NaN, NaN, NaN, 2]);
  assert.ok(scored.episodeRewards.every((r) => !Number.isFinite(r) ? Number.isNaN(r) : true), 'no infinities');
  assert.deepEqual(rewards.stats().huge.failures, { error: 0, nan: 3, timeout: 0 });
  assert.match(lines[0], /reward huge failed \(nan: returned 1e\+39 instead of a finite number within the float32 range/);
  // The largest float32 itself is a valid score.
  const max = await combineRewards([rewardFunction({ name: 'max', scope: 'episode', score: () => 3.4028234e38 })]).scoreGroup([episodeOf(['a'])]);
  assert.ok(Number.isFinite(max.rewards[0]));
});

test('sums of valid scores that overflow float32 are missing rewards, never Infinity', async () => {
  const lines: string[] = [];
  // 3e38 (a valid float32) for the reply 'x', 1 otherwise.
  const big = (name: string, scope: 'episode' | 'turn') =>
    rewardFunction({ name, scope, score: (target: Episode | Turn) => (('turns' in target ? target.turns[0] : target).assistant.content === 'x' ? 3e38 : 1) } as RewardFunction);
  // Weighted sum of two functions (6e38), episode + turn rewards (3e38 + 3e38), an environment reward past float32.
  for (const [entries, episode] of [
    [[big('a', 'episode'), big('b', 'episode')], episodeOf(['x'])],
    [[big('a', 'episode'), big('t', 'turn')], episodeOf(['x'])],
    [[{ reward: big('a', 'episode'), weight: 2 }], episodeOf(['x'])],
    [[length], episodeOf([{ text: 'x', envReward: 1e39 }])],
  ] as const) {
    const scored = await combineRewards([...entries], { log: (l) => lines.push(l) }).scoreGroup([episode, episodeOf(['y'])]);
    assert.ok(Number.isNaN(scored.rewards[0]), `${entries.map((e) => ('name' in e ? e.name : e.reward.name))}: ${scored.rewards[0]}`);
    assert.ok(Number.isFinite(scored.rewards[1]), 'the other episode is untouched');
    for (const values of [scored.rewards, scored.episodeRewards, ...scored.turnRewards]) {
      assert.ok(values.every((v) => Number.isFinite(v) || Number.isNaN(v)), `no infinities: ${Array.from(values)}`);
    }
  }
  assert.ok(lines.some((l) => /beyond the float32 range/.test(l)));
  // The advantages of such a group are finite: the missing reward gets 0.
  const advantages = groupAdvantages({ rewards: (await combineRewards([big('a', 'episode'), big('b', 'episode')], { log: () => {} }).scoreGroup([episodeOf(['x'])])).rewards, groupSize: 1 });
  assert.ok(advantages.every(Number.isFinite));
});

test('a function-level timeout overrides the composite one', async () => {
  const slow = rewardFunction({ name: 'slow', scope: 'episode', timeoutMs: 20, score: () => new Promise<number>((r) => setTimeout(() => r(1), 2000).unref()) });
  const rewards = combineRewards([slow], { timeoutMs: 60_000, log: () => {} });
  close((await rewards.scoreGroup([episodeOf(['a'])])).rewards, [NaN]);
  assert.equal(rewards.stats().slow.failures.timeout, 1);
});

test('bad reward definitions are refused with ERR_INVALID_REWARD', () => {
  const refused = (fn: () => unknown, message: RegExp) => assert.throws(fn, (e: unknown) => e instanceof StatesetError && e.code === 'ERR_INVALID_REWARD' && message.test(e.message));
  refused(() => rewardFunction({ name: '', scope: 'episode', score: () => 1 }), /non-empty name/);
  refused(() => rewardFunction({ name: 'x', scope: 'step' as never, score: () => 1 }), /scope must be 'episode' or 'turn'/);
  refused(() => combineRewards([]), /at least one/);
  refused(() => combineRewards([length, length]), /two reward functions are named length/);
  refused(() => combineRewards([{ reward: length, weight: NaN }]), /weight must be a finite number/);
  refused(() => combineRewards([length], { mode: 'sum' as never }), /unknown combine mode/);
});

// Credit assignment from trajectory rewards to per-token advantages (ALGORITHMS.md section 5).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { returnsToGo, tokenAdvantages, type Trajectory } from '../src/index.js';

/** A trajectory of 2-token prompt + per turn: 2 sampled tokens, then 1 template token. */
function trajectory(group: number, member: number, turnRewards: number[], episodeReward: number): Trajectory {
  const mask: number[] = [0, 0];
  const turns = turnRewards.map((_, index) => {
    const start = mask.length;
    mask.push(1, 1, 0);
    return { index, assistant: { role: 'assistant' as const, content: '' }, replies: [], toolCalls: [], finishReason: 'stop' as const, start, end: start + 2 };
  });
  const reward = episodeReward + turnRewards.reduce((a, b) => a + b, 0);
  return {
    scenario: {},
    messages: [],
    turns,
    doneReason: 'max_turns',
    group,
    member,
    tokens: new Int32Array(mask.length),
    mask: Uint8Array.from(mask),
    logprobs: new Float32Array(mask.length),
    promptLength: 2,
    turnRewards: Float32Array.from(turnRewards),
    episodeReward,
    reward,
    rewardScores: {},
  };
}

const near = (actual: ArrayLike<number>, expected: number[]) =>
  expected.forEach((e, i) => assert.ok(Math.abs(actual[i] - e) < 1e-5, `[${i}] ${actual[i]} != ${e}`));

test("'episode': the group advantage of R on every sampled token, 0 elsewhere", () => {
  const batch = [1, 0, 0, 1].map((r, m) => trajectory(0, m, [0], r));
  const advantages = tokenAdvantages(batch);
  near(advantages[0], [0, 0, 0.865875, 0.865875, 0]);
  near(advantages[1], [0, 0, -0.865875, -0.865875, 0]);
});

test("'episode': groups are normalized separately; a missing reward gets 0", () => {
  const batch = [trajectory(0, 0, [0], 1), trajectory(0, 1, [0], 0), trajectory(1, 0, [0], 5), trajectory(1, 1, [0], NaN), trajectory(1, 2, [0], 3)];
  const advantages = tokenAdvantages(batch, { estimator: 'dr_grpo' });
  near(advantages[0].subarray(2, 4), [0.5, 0.5]);
  near(advantages[2].subarray(2, 4), [1, 1]);
  near(advantages[3].subarray(2, 4), [0, 0]);
  near(advantages[4].subarray(2, 4), [-1, -1]);
});

test("'turn': discounted returns-to-go, the episode reward added to the last turn", () => {
  const t = trajectory(0, 0, [1, 0, 2], 3);
  assert.deepEqual(returnsToGo(t, 0.5), [1 + 0.5 * (0 + 0.5 * 5), 0 + 0.5 * 5, 5]);
  assert.deepEqual(returnsToGo(trajectory(0, 0, [1, NaN], 0), 1).map(Number.isNaN), [true, true]);
});

test("'turn': each turn's tokens get the group-normalized return of that turn", () => {
  // returns (gamma 1): member 0 -> [2, 1], member 1 -> [0]; pooled mean 1; dr_grpo: G - 1
  const batch = [trajectory(0, 0, [1, 1], 0), trajectory(0, 1, [0], 0)];
  const advantages = tokenAdvantages(batch, { creditAssignment: 'turn', estimator: 'dr_grpo' });
  near(advantages[0], [0, 0, 1, 1, 0, 0, 0, 0]);
  near(advantages[1], [0, 0, -1, -1, 0]);
});

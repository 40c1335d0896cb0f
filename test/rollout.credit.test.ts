// Credit assignment from trajectory rewards to per-token advantages (ALGORITHMS.md section 5).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { returnsToGo, tokenAdvantages, type Trajectory } from '../src/index.js';
import { hasZeroStd } from '../src/train/shaping.js';
import { rng } from './helpers/random.js';

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

test("'turn': each turn is measured against the same turn of the group's other members", () => {
  // returns (gamma 1): member 0 -> [2, 1], member 1 -> [0]. Turn 0: both members, dr_grpo
  // G - mean = +-1. Turn 1: member 0 alone, so it falls back to its episode advantage
  // (R = 2 vs 0: +1), not its return against the pooled returns of every turn.
  const batch = [trajectory(0, 0, [1, 1], 0), trajectory(0, 1, [0], 0)];
  const advantages = tokenAdvantages(batch, { creditAssignment: 'turn', estimator: 'dr_grpo' });
  near(advantages[0], [0, 0, 1, 1, 0, 1, 1, 0]);
  near(advantages[1], [0, 0, -1, -1, 0]);
});

test("'turn': members that behaved identically get exactly 0, with every estimator", () => {
  for (const estimator of ['grpo', 'dr_grpo', 'rloo', 'reinforce_pp'] as const) {
    for (const gamma of [1, 0.9]) {
      // Rewards that differ from turn to turn (so returns-to-go differ by turn) but not between members.
      const batch = [0, 1, 2, 3].map((m) => trajectory(0, m, [1, 0.5, 2], 3));
      for (const advantages of tokenAdvantages(batch, { creditAssignment: 'turn', estimator, gamma })) {
        assert.ok(advantages.every((a) => a === 0), `${estimator}, gamma ${gamma}: ${Array.from(advantages)}`);
      }
    }
  }
});

test("'turn': early turns are not favoured: each turn index's advantages sum to 0 over its group", () => {
  const next = rng(11);
  // Positive rewards on every turn: pooled normalization pushed turn 0 (the largest
  // return-to-go) up and the last turn down in every member.
  const batch = [0, 1].flatMap((g) => Array.from({ length: 8 }, (_, m) => trajectory(g, m, [next(), next(), next()], next())));
  for (const estimator of ['grpo', 'dr_grpo', 'rloo'] as const) {
    const advantages = tokenAdvantages(batch, { creditAssignment: 'turn', estimator });
    for (const g of [0, 1]) {
      for (const k of [0, 1, 2]) {
        const at = 2 + 3 * k; // the first sampled token of turn k
        const sum = batch.reduce((a, t, i) => a + (t.group === g ? advantages[i][at] : 0), 0);
        assert.ok(Math.abs(sum) < 1e-4, `${estimator}, group ${g}, turn ${k}: advantages sum to ${sum}`);
      }
    }
  }
});

test("'turn': a hand-computed group (rloo, grpo, gamma 0.5)", () => {
  // member 0: turn rewards [1, 0], episode 2 -> G = [1 + 0.5 * 2, 0 + 2] = [2, 2]
  // member 1: turn rewards [0, 1], episode 0 -> G = [0 + 0.5 * 1, 1]   = [0.5, 1]
  // member 2: turn rewards [3],    episode 1 -> G = [4]
  const batch = [trajectory(0, 0, [1, 0], 2), trajectory(0, 1, [0, 1], 0), trajectory(0, 2, [3], 1)];
  const rloo = tokenAdvantages(batch, { creditAssignment: 'turn', estimator: 'rloo', gamma: 0.5 });
  // Turn 0, leave-one-out means: 2 - (0.5 + 4) / 2 = -0.25, 0.5 - (2 + 4) / 2 = -2.5, 4 - (2 + 0.5) / 2 = 2.75.
  // Turn 1 (members 0 and 1): 2 - 1 = 1, 1 - 2 = -1.
  near(rloo[0], [0, 0, -0.25, -0.25, 0, 1, 1, 0]);
  near(rloo[1], [0, 0, -2.5, -2.5, 0, -1, -1, 0]);
  near(rloo[2], [0, 0, 2.75, 2.75, 0]);
  // grpo, turn 1: (G - 1.5) / (std + eps), std of {2, 1} = sqrt(0.5).
  const grpo = tokenAdvantages(batch, { creditAssignment: 'turn', estimator: 'grpo', gamma: 0.5 });
  const turn1 = 0.5 / (Math.SQRT1_2 + 1e-4);
  near(grpo[0].subarray(5, 7), [turn1, turn1]);
  near(grpo[1].subarray(5, 7), [-turn1, -turn1]);
});

test("'turn': a turn index fewer than two members reached gets the member's episode advantage", () => {
  // Member 0 plays 3 turns, members 1 and 2 one each, member 3's reward is missing: turns
  // 1 and 2 have one valid member, whose episode-level advantage they take.
  const batch = [trajectory(0, 0, [1, 1, 1], 0), trajectory(0, 1, [0], 0), trajectory(0, 2, [2], 0), trajectory(0, 3, [5, 5, 5], NaN)];
  const episode = tokenAdvantages(batch, { estimator: 'grpo' });
  const turn = tokenAdvantages(batch, { creditAssignment: 'turn', estimator: 'grpo' });
  // Episode advantage of member 0: R = 3 against {3, 0, 2}.
  const expected = episode[0][2];
  assert.ok(expected > 0);
  near(turn[0].subarray(5, 7), [expected, expected]);
  near(turn[0].subarray(8, 10), [expected, expected]);
  // Turn 0 is shared by three valid members: its own statistics (G = 3, 0, 2), not the fallback.
  const mean = 5 / 3;
  const std = Math.sqrt(((3 - mean) ** 2 + mean ** 2 + (2 - mean) ** 2) / 2);
  near(turn[0].subarray(2, 4), [(3 - mean) / (std + 1e-4), (3 - mean) / (std + 1e-4)]);
  assert.ok(turn[3].every((a) => a === 0), 'the member with a missing reward gets 0');
});

test("'turn' with reinforce_pp: each turn index's baseline is over the whole batch", () => {
  // Two groups; within each group the members are identical, across groups they differ.
  const batch = [trajectory(0, 0, [1, 1], 0), trajectory(0, 1, [1, 1], 0), trajectory(1, 0, [0, 3], 0), trajectory(1, 1, [0, 3], 0)];
  const advantages = tokenAdvantages(batch, { creditAssignment: 'turn', estimator: 'reinforce_pp', scale: 'none' });
  // Turn 0: G = 2, 2, 3, 3 (batch mean 2.5); turn 1: G = 1, 1, 3, 3 (batch mean 2).
  near(advantages[0], [0, 0, -0.5, -0.5, 0, -1, -1, 0]);
  near(advantages[2], [0, 0, 0.5, 0.5, 0, 1, 1, 0]);
});

test('a trajectory without loss tokens stays out of the statistics and gets 0', () => {
  const silent = trajectory(0, 2, [100], 0);
  silent.mask.fill(0);
  for (const creditAssignment of ['episode', 'turn'] as const) {
    const without = tokenAdvantages([trajectory(0, 0, [1], 0), trajectory(0, 1, [0], 0)], { creditAssignment });
    const withIt = tokenAdvantages([trajectory(0, 0, [1], 0), trajectory(0, 1, [0], 0), silent], { creditAssignment });
    near(withIt[0], Array.from(without[0]));
    near(withIt[1], Array.from(without[1]));
    assert.ok(withIt[2].every((a) => a === 0));
  }
  // Nor does it count toward a group's zero-std test: the two members with loss tokens agree.
  assert.equal(hasZeroStd([trajectory(0, 0, [1], 0), trajectory(0, 1, [1], 0), silent]), true);
  assert.equal(hasZeroStd([trajectory(0, 0, [1], 0), trajectory(0, 1, [0], 0), silent]), false);
});

test('returns that overflow float32 are missing, not infinite', () => {
  // Each reward and the total fit a float32; the partial sum 3e38 + 3e38 does not.
  const t = trajectory(0, 0, [-3e38, 3e38, 3e38], 0);
  assert.ok(Number.isFinite(Math.fround(t.reward)));
  assert.ok(returnsToGo(t, 1).every(Number.isNaN));
  const advantages = tokenAdvantages([t, trajectory(0, 1, [0, 0, 0], 0), trajectory(0, 2, [1, 0, 0], 0)], { creditAssignment: 'turn' });
  assert.ok(advantages[0].every((a) => a === 0));
  assert.ok(advantages.every((a) => a.every(Number.isFinite)));
});

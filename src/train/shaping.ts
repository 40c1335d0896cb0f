/**
 * Reward and mask shaping between rollouts and advantages (ALGORITHMS.md section 4):
 * DAPO's soft overlong punishment, masking of truncated turns, and dynamic sampling's
 * test for groups that carry no learning signal.
 */
import type { Trajectory } from '../core/episode.js';
import { overlongPenalty } from '../rewards/builtins/length.js';

/**
 * Adds each turn's soft overlong penalty (by its sampled tokens, against the generation
 * limit `maxLength`) to its turn reward and to the trajectory's reward.
 */
export function applyOverlongPenalty<S>(trajectory: Trajectory<S>, maxLength: number, cacheLength: number): Trajectory<S> {
  const penalties = trajectory.turns.map((turn) => overlongPenalty(turn.end - turn.start, maxLength, cacheLength));
  const turnRewards = Float32Array.from(trajectory.turnRewards, (r, k) => r + penalties[k]);
  const reward = trajectory.reward + penalties.reduce((a, b) => a + b, 0);
  return { ...trajectory, turnRewards, reward };
}

/** Loss mask 0 on the tokens of turns cut off by the length limit (no end-of-turn token). */
export function maskTruncatedTurns<S>(trajectory: Trajectory<S>): Trajectory<S> {
  const truncated = trajectory.turns.filter((turn) => turn.finishReason === 'length');
  if (truncated.length === 0) return trajectory;
  const mask = Uint8Array.from(trajectory.mask);
  for (const turn of truncated) mask.fill(0, turn.start, turn.end);
  return { ...trajectory, mask };
}

/**
 * Whether a group (its members' rewards) gives no learning signal: fewer than two valid
 * rewards, or all of them equal, so every group-relative advantage is 0.
 */
export function hasZeroStd(rewards: number[]): boolean {
  const valid = rewards.filter(Number.isFinite);
  return valid.length < 2 || valid.every((r) => r === valid[0]);
}

/** The trajectories of a batch, group by group (group-major order, as collectRollouts returns them). */
export function groupsOf<S>(trajectories: Trajectory<S>[], groupSize: number): Trajectory<S>[][] {
  const groups: Trajectory<S>[][] = [];
  for (let i = 0; i < trajectories.length; i += groupSize) groups.push(trajectories.slice(i, i + groupSize));
  return groups;
}

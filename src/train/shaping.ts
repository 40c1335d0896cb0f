/**
 * Reward and mask shaping between rollouts and advantages (ALGORITHMS.md section 4):
 * DAPO's soft overlong punishment, masking of truncated turns, and dynamic sampling's
 * test for groups that carry no learning signal.
 */
import type { Trajectory, Turn } from '../core/episode.js';
import { overlongPenalty } from '../rewards/builtins/length.js';
import { hasLossTokens } from '../rollout/credit.js';

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

/**
 * Loss mask 0 on the tokens of turns cut off (no end-of-turn token) for one of `reasons`:
 * by the length limit ('length') or by the end of the context ('context').
 */
export function maskTruncatedTurns<S>(trajectory: Trajectory<S>, reasons: Turn['finishReason'][] = ['length', 'context']): Trajectory<S> {
  const truncated = trajectory.turns.filter((turn) => reasons.includes(turn.finishReason));
  if (truncated.length === 0) return trajectory;
  const mask = Uint8Array.from(trajectory.mask);
  for (const turn of truncated) mask.fill(0, turn.start, turn.end);
  return { ...trajectory, mask };
}

/**
 * Whether a group gives no learning signal: fewer than two valid rewards among its members
 * with loss tokens, or all of them equal, so every group-relative advantage is 0.
 */
export function hasZeroStd(group: Trajectory[]): boolean {
  const valid = group.filter(hasLossTokens).map((t) => t.reward).filter(Number.isFinite);
  return valid.length < 2 || valid.every((r) => r === valid[0]);
}

/** The trajectories of a batch, group by group (group-major order, as collectRollouts returns them). */
export function groupsOf<S>(trajectories: Trajectory<S>[], groupSize: number): Trajectory<S>[][] {
  const groups: Trajectory<S>[][] = [];
  for (let i = 0; i < trajectories.length; i += groupSize) groups.push(trajectories.slice(i, i + groupSize));
  return groups;
}

/**
 * Credit assignment (ALGORITHMS.md section 5): from the rewards of a rollout batch to one
 * advantage per token, non-zero only where the policy sampled (mask 1).
 *   'episode': every sampled token of an episode gets the group advantage of its reward R.
 *   'turn':    turn k of member i gets the advantage of its discounted return-to-go
 *              G_{i,k} = r_{i,k} + gamma * G_{i,k+1} (the episode reward counts as the
 *              last turn's) against the members of its group that reached turn k: the
 *              estimator's statistics taken over turn index k alone (see turnAdvantages).
 * A trajectory whose reward is missing (NaN) or that has no loss tokens (every turn masked
 * out) is left out of every statistic and gets advantage 0.
 */
import { groupAdvantages } from '../algorithms/advantages.js';
import type { Estimator, Scale } from '../algorithms/types.js';
import type { Trajectory } from '../core/episode.js';
import { StatesetError } from '../core/errors.js';

export type CreditAssignment = 'episode' | 'turn';

export interface CreditOptions {
  /** Default 'episode'. */
  creditAssignment?: CreditAssignment;
  /** Default 'grpo'. */
  estimator?: Estimator;
  /** Discount between turns for 'turn'. Default 1. */
  gamma?: number;
  /** How advantages are scaled (see GroupAdvantageOptions.scale). Default: the estimator's own. */
  scale?: Scale;
  /** Added to the std before dividing. Default 1e-4. */
  eps?: number;
}

type Statistics = Pick<CreditOptions, 'estimator' | 'scale' | 'eps'>;

/** Per trajectory, an advantage for each of its tokens. */
export function tokenAdvantages(trajectories: Trajectory[], options: CreditOptions = {}): Float32Array[] {
  const { creditAssignment = 'episode', estimator = 'grpo', gamma = 1, scale, eps } = options;
  if (!(gamma >= 0 && gamma <= 1)) throw new StatesetError('ERR_INVALID_PARAMETER', `gamma must be in [0, 1], got ${gamma}.`);
  if (creditAssignment !== 'episode' && creditAssignment !== 'turn') {
    throw new StatesetError('ERR_INVALID_ARGUMENT', `unknown credit assignment ${JSON.stringify(creditAssignment)}: use 'episode' or 'turn'.`);
  }
  const statistics: Statistics = { estimator, scale, eps };
  const rewards = trajectories.map((t) => (hasLossTokens(t) ? t.reward : NaN));
  const episode = groupAdvantages({ rewards, groupIds: trajectories.map((t) => t.group), ...statistics });
  if (creditAssignment === 'episode') return trajectories.map((t, i) => broadcast(t, t.turns.map(() => episode[i])));

  const returns = trajectories.map((t, i) => (Number.isNaN(rewards[i]) ? t.turns.map(() => NaN) : returnsToGo(t, gamma)));
  const perTurn = turnAdvantages(trajectories, returns, episode, statistics);
  return trajectories.map((t, i) => broadcast(t, perTurn[i]));
}

/**
 * Turn-level advantages. For each turn index k, the returns G_{i,k} of the members that
 * reached turn k go through the group estimator together, grouped by scenario: grpo
 * (G - mean) / (std + eps), dr_grpo G - mean, rloo the leave-one-out mean, all over the
 * members of the group that reached turn k; reinforce_pp takes the mean and std of turn
 * k over the whole batch. `scale` 'batch' likewise means the std of turn k over the batch.
 * Where fewer than two valid members share the baseline, a turn gets its member's
 * episode-level advantage instead (`episode[i]`).
 */
function turnAdvantages(trajectories: Trajectory[], returns: number[][], episode: Float32Array, statistics: Statistics): number[][] {
  const out = returns.map((r, i) => r.map(() => episode[i]));
  const longest = returns.reduce((n, r) => Math.max(n, r.length), 0);
  const batchWide = statistics.estimator === 'reinforce_pp';
  for (let k = 0; k < longest; k++) {
    const members = returns.flatMap((r, i) => (r.length > k ? [i] : []));
    const values = members.map((i) => returns[i][k]);
    const advantages = groupAdvantages({ rewards: values, groupIds: members.map((i) => trajectories[i].group), ...statistics });
    // How many valid returns share each baseline: per group, or the whole turn index for reinforce_pp.
    const poolOf = (i: number) => (batchWide ? 0 : trajectories[i].group);
    const valid = new Map<number, number>();
    members.forEach((i, j) => Number.isNaN(values[j]) || valid.set(poolOf(i), (valid.get(poolOf(i)) ?? 0) + 1));
    members.forEach((i, j) => {
      if ((valid.get(poolOf(i)) ?? 0) >= 2) out[i][k] = advantages[j];
    });
  }
  return out;
}

/**
 * G_k for each turn. NaN throughout when the episode's reward is missing, or when a return
 * does not fit a float32 (partial sums of huge rewards of opposite signs): a return the
 * advantage kernels cannot hold is a missing one, not an infinite one.
 */
export function returnsToGo(trajectory: Trajectory, gamma: number): number[] {
  const { turns, turnRewards, episodeReward } = trajectory;
  const out = new Array<number>(turns.length);
  let next = 0;
  for (let k = turns.length - 1; k >= 0; k--) {
    const reward = turnRewards[k] + (k === turns.length - 1 ? episodeReward : 0);
    out[k] = next = reward + gamma * next;
  }
  const representable = out.every((g) => Number.isFinite(Math.fround(g)));
  return Number.isNaN(trajectory.reward) || !representable ? out.fill(NaN) : out;
}

/** Whether any token of the trajectory is in the loss; one without is left out of group statistics. */
export function hasLossTokens(trajectory: Trajectory): boolean {
  return trajectory.mask.some((m) => m !== 0);
}

/** Turn k's advantage on the masked tokens of its span. */
function broadcast(trajectory: Trajectory, perTurn: number[]): Float32Array {
  const out = new Float32Array(trajectory.tokens.length);
  trajectory.turns.forEach((turn, k) => {
    for (let p = turn.start; p < turn.end; p++) out[p] = trajectory.mask[p] ? perTurn[k] : 0;
  });
  return out;
}

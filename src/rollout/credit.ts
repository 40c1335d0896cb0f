/**
 * Credit assignment (ALGORITHMS.md section 5): from the rewards of a rollout batch to one
 * advantage per token, non-zero only where the policy sampled (mask 1).
 *   'episode': every sampled token of an episode gets the group advantage of its reward R.
 *   'turn':    turn k gets the group advantage of its discounted return-to-go
 *              G_k = r_k + gamma * G_{k+1}, where r_k is the turn's reward and the episode
 *              reward is added to the last turn. The returns of all turns of all members
 *              of a group are normalized together.
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

/** Per trajectory, an advantage for each of its tokens. */
export function tokenAdvantages(trajectories: Trajectory[], options: CreditOptions = {}): Float32Array[] {
  const { creditAssignment = 'episode', estimator = 'grpo', gamma = 1, scale, eps } = options;
  if (!(gamma >= 0 && gamma <= 1)) throw new StatesetError('ERR_INVALID_PARAMETER', `gamma must be in [0, 1], got ${gamma}.`);
  if (creditAssignment === 'episode') {
    const advantages = groupAdvantages({ rewards: trajectories.map((t) => t.reward), groupIds: trajectories.map((t) => t.group), estimator, scale, eps });
    return trajectories.map((t, i) => broadcast(t, t.turns.map(() => advantages[i])));
  }
  if (creditAssignment === 'turn') {
    const returns = trajectories.map((t) => returnsToGo(t, gamma));
    const advantages = groupAdvantages({
      rewards: returns.flat(),
      groupIds: trajectories.flatMap((t, i) => returns[i].map(() => t.group)),
      estimator,
      scale,
      eps,
    });
    let offset = 0;
    return trajectories.map((t, i) => {
      const perTurn = Array.from(advantages.subarray(offset, offset + returns[i].length));
      offset += returns[i].length;
      return broadcast(t, perTurn);
    });
  }
  throw new StatesetError('ERR_INVALID_ARGUMENT', `unknown credit assignment ${JSON.stringify(creditAssignment)}: use 'episode' or 'turn'.`);
}

/** G_k for each turn; NaN throughout when the episode's reward is missing. */
export function returnsToGo(trajectory: Trajectory, gamma: number): number[] {
  const { turns, turnRewards, episodeReward } = trajectory;
  const out = new Array<number>(turns.length);
  let next = 0;
  for (let k = turns.length - 1; k >= 0; k--) {
    const reward = turnRewards[k] + (k === turns.length - 1 ? episodeReward : 0);
    out[k] = next = reward + gamma * next;
  }
  return Number.isNaN(trajectory.reward) ? out.fill(NaN) : out;
}

/** Turn k's advantage on the masked tokens of its span. */
function broadcast(trajectory: Trajectory, perTurn: number[]): Float32Array {
  const out = new Float32Array(trajectory.tokens.length);
  trajectory.turns.forEach((turn, k) => {
    for (let p = turn.start; p < turn.end; p++) out[p] = trajectory.mask[p] ? perTurn[k] : 0;
  });
  return out;
}

import type { Mask } from './inputs.js';

export type { Mask };

export interface GaeOptions {
  /** Reward at each position, all trajectories back to back. */
  rewards: Float32Array | number[];
  /** Critic value V_t at each position. */
  values: Float32Array | number[];
  /** 1 where the episode terminated at this step. */
  dones?: Mask | number[];
  /** 1 on action positions; 0 positions carry the next value and advantage through. */
  mask?: Mask | number[];
  /** n+1 trajectory boundaries; absent means one trajectory. */
  offsets?: Int32Array | number[];
  /** V_T of each trajectory cut off by a length limit (0 for terminal ones). */
  bootstrap?: Float32Array | number[];
  /** Discount, in [0, 1]. Default 1.0 (token-level LLM training). */
  gamma?: number;
  /** GAE lambda, in [0, 1]. Default 0.95. */
  lambda?: number;
  /** Whiten advantages over masked positions (returns are computed before). Default false. */
  whiten?: boolean;
  /**
   * Buffers to write the result into instead of allocating new arrays: two Float32Arrays of
   * the rewards' length that share no memory with the inputs. The result returns them.
   */
  out?: GaeResult;
}

export interface GaeResult {
  advantages: Float32Array;
  /** Critic targets A_t + V_t, before any whitening. */
  returns: Float32Array;
}

export type Estimator = 'grpo' | 'dr_grpo' | 'rloo' | 'reinforce_pp';
export type Scale = 'group' | 'batch' | 'none';

export interface GroupAdvantageOptions {
  /** One scalar reward per sample; NaN means missing (left out, advantage 0). */
  rewards: Float32Array | number[];
  /** Consecutive groups of this many samples. Give this or `groupIds`. */
  groupSize?: number;
  /** The group id of each sample, for ragged groups. */
  groupIds?: Int32Array | number[];
  /** Default 'grpo'. */
  estimator?: Estimator;
  /** Default: 'group' for grpo, 'none' for dr_grpo and rloo, 'batch' for reinforce_pp. */
  scale?: Scale;
  /** Added to the std before dividing. Default 1e-4. */
  eps?: number;
  /**
   * A buffer to write the advantages into instead of allocating a new array: a
   * Float32Array of the rewards' length that shares no memory with the inputs. Returned.
   */
  out?: Float32Array;
}

export const GAE_DEFAULTS = { gamma: 1.0, lambda: 0.95, whiten: false } as const;
export const GROUP_DEFAULTS = { estimator: 'grpo', eps: 1e-4 } as const;

export const DEFAULT_SCALE: Record<Estimator, Scale> = {
  grpo: 'group',
  dr_grpo: 'none',
  rloo: 'none',
  reinforce_pp: 'batch',
};

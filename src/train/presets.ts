/**
 * The recipe presets of ALGORITHMS.md section 4. A preset is data: the defaults it
 * fills into the trainer config. Any field can be overridden by the user.
 */
import { CISPO_EPS } from '../algorithms/loss-options.js';
import type { Estimator, Scale } from '../algorithms/types.js';

export type Algorithm = 'grpo' | 'dr_grpo' | 'dapo' | 'gspo' | 'rloo' | 'cispo' | 'ppo' | 'sft';

export const ALGORITHMS: readonly Algorithm[] = ['grpo', 'dr_grpo', 'dapo', 'gspo', 'rloo', 'cispo', 'ppo', 'sft'];

export interface Preset {
  advantage: { estimator: Estimator; scale?: Scale };
  loss: {
    loss: 'token_clip' | 'gspo' | 'gspo_token' | 'cispo' | 'sft';
    epsLow: number;
    epsHigh: number;
    aggregation: 'token-mean' | 'seq-mean-token-mean' | 'seq-mean-token-sum' | 'seq-mean-token-sum-norm';
    beta: number;
  };
  /** DAPO: drop groups whose rewards are all equal and sample more. */
  dynamicSampling: boolean;
  /** DAPO: soft overlong punishment of completions near the length limit. */
  overlongShaping: boolean;
  /** PPO: GAE and the critic (every other preset keeps PPO_DEFAULTS, which it ignores). */
  ppo?: Partial<PpoSettings>;
}

export interface PpoSettings {
  gamma: number;
  lambdaActor: number;
  lambdaCritic: number;
  whitenAdvantages: boolean;
  vfClip: number;
  valueLearningRate: number;
  valueWarmupSteps: number;
}

/**
 * Token-level PPO for LLMs: gamma 1; lambda 0.95 for the policy and 1.0 for the critic's
 * returns (VC-PPO, VAPO); whitened advantages; value clip 0.2 (OpenRLHF's); the critic
 * learns 5x faster than the policy's default rate; no value warm-up (VAPO pretrains the
 * value for 50 steps of a long run: set valueWarmupSteps).
 */
export const PPO_DEFAULTS: PpoSettings = {
  gamma: 1.0,
  lambdaActor: 0.95,
  lambdaCritic: 1.0,
  whitenAdvantages: true,
  vfClip: 0.2,
  valueLearningRate: 5e-5,
  valueWarmupSteps: 0,
};

const tokenClip = { loss: 'token_clip', epsLow: 0.2, epsHigh: 0.2, aggregation: 'token-mean', beta: 0 } as const;
const plain = { dynamicSampling: false, overlongShaping: false };

export const PRESETS: Record<Algorithm, Preset> = {
  grpo: { advantage: { estimator: 'grpo' }, loss: tokenClip, ...plain },
  dr_grpo: {
    advantage: { estimator: 'dr_grpo' },
    loss: { ...tokenClip, aggregation: 'seq-mean-token-sum-norm' },
    ...plain,
  },
  dapo: {
    advantage: { estimator: 'grpo' },
    loss: { ...tokenClip, epsHigh: 0.28 },
    dynamicSampling: true,
    overlongShaping: true,
  },
  gspo: {
    advantage: { estimator: 'grpo' },
    loss: { loss: 'gspo', epsLow: 3e-4, epsHigh: 4e-4, aggregation: 'seq-mean-token-mean', beta: 0 },
    ...plain,
  },
  rloo: { advantage: { estimator: 'rloo' }, loss: tokenClip, ...plain },
  // MiniMax-M1: group-relative advantages, the clipped importance weight held constant
  // (no lower bound, capped at 1 + 3 = 4), token-mean over the batch.
  cispo: {
    advantage: { estimator: 'grpo' },
    loss: { loss: 'cispo', epsLow: CISPO_EPS.low, epsHigh: CISPO_EPS.high, aggregation: 'token-mean', beta: 0 },
    ...plain,
  },
  // A learned critic instead of groups: GAE advantages; the advantage estimator is unused.
  ppo: { advantage: { estimator: 'grpo' }, loss: tokenClip, ...plain, ppo: PPO_DEFAULTS },
  sft: { advantage: { estimator: 'grpo' }, loss: { ...tokenClip, loss: 'sft' }, ...plain },
};

/**
 * The trainer's configuration: every hyperparameter visible, validated with zod. A
 * preset (presets.ts) fills the algorithm's defaults; the user's fields override them.
 */
import { z } from 'zod';
import { parseConfig } from '../config/load.js';
import { ALGORITHMS, PPO_DEFAULTS, PRESETS, type Algorithm } from './presets.js';

const positiveInt = z.number().int().positive();
const nonNegative = z.number().nonnegative();
const probability = z.number().min(0).max(1);

/** Every object is strict: a misspelt key is an error naming its path, never silently ignored. */
export const TrainerConfigSchema = z
  .object({
    algorithm: z.enum(ALGORITHMS as [Algorithm, ...Algorithm[]]),
    /** Total optimizer steps of the run (a resumed run continues up to this number). */
    steps: positiveInt,
    seed: z.number().int().nonnegative(),
    /** Scenarios (prompts) per step. */
    batchSize: positiveInt,
    /** Rollouts per scenario (G). */
    groupSize: positiveInt,
    /** Optimizer passes over each rollout batch (mu). */
    numIterations: positiveInt,
    /** Sequences per forward/backward; gradients accumulate over the whole batch. */
    microBatchSize: positiveInt,
    /** Keep only each block's input in the forward and recompute in the backward: less memory, ~30% more time. */
    activationCheckpointing: z.boolean(),
    /** Episodes rolled out at once (their generation calls are batched). */
    rolloutConcurrency: positiveInt,
    learningRate: z.number().positive(),
    lrSchedule: z.enum(['constant', 'linear', 'cosine']),
    warmupSteps: z.number().int().nonnegative(),
    weightDecay: nonNegative,
    adamBetas: z.tuple([probability, probability]),
    adamEps: z.number().positive(),
    maxGradNorm: z.number().positive(),
    advantage: z.strictObject({
      estimator: z.enum(['grpo', 'dr_grpo', 'rloo', 'reinforce_pp']),
      scale: z.enum(['group', 'batch', 'none']).optional(),
      eps: z.number().positive(),
    }),
    /** How advantages reach tokens (ALGORITHMS.md section 5). */
    creditAssignment: z.enum(['episode', 'turn']),
    /** Discount between turns for creditAssignment 'turn': G_k = r_k + gamma * G_{k+1}. */
    gamma: probability,
    loss: z.strictObject({
      loss: z.enum(['token_clip', 'gspo', 'gspo_token', 'cispo', 'sft']),
      epsLow: nonNegative,
      epsHigh: nonNegative,
      dualClip: z.number().gt(1).optional(),
      aggregation: z.enum(['token-mean', 'seq-mean-token-mean', 'seq-mean-token-sum', 'seq-mean-token-sum-norm']),
      /**
       * L_max of 'seq-mean-token-sum-norm' (Dr. GRPO): a constant, so that the effective
       * learning rate does not change with each batch's longest completion. Default (filled
       * by the trainer): generation.maxNewTokens times the environment's maxTurns (1 when it
       * has none); for SFT on a dataset, the dataset's longest target.
       */
      maxCompletionLength: z.number().int().positive().max(0xffffffff).optional(),
      beta: nonNegative,
      klEstimator: z.enum(['k1', 'k2', 'k3']),
    }),
    generation: z.strictObject({
      maxNewTokens: positiveInt,
      temperature: nonNegative,
      topP: z.number().gt(0).max(1),
      topK: z.number().int().nonnegative(),
      minP: probability,
    }),
    /** DAPO: drop groups whose rewards are all equal; sample again up to `maxRounds` extra times. */
    dynamicSampling: z.strictObject({ enabled: z.boolean(), maxRounds: z.number().int().nonnegative() }),
    /** DAPO: soft overlong punishment (ALGORITHMS.md section 4) and masking of truncated completions. */
    overlong: z.strictObject({
      enabled: z.boolean(),
      cacheLength: positiveInt,
      maskTruncated: z.boolean(),
    }),
    /** PPO (algorithm 'ppo'): GAE and the critic. The other algorithms ignore it. */
    ppo: z.strictObject({
      /** Discount per token (per step of the trajectory, user and tool tokens carried through). */
      gamma: probability,
      /** GAE lambda of the policy's advantages (VC-PPO / VAPO: 0.95). */
      lambdaActor: probability,
      /** GAE lambda of the critic's returns (VC-PPO / VAPO: 1.0, unbiased targets). */
      lambdaCritic: probability,
      /** Whiten the advantages over the batch's sampled tokens. */
      whitenAdvantages: z.boolean(),
      /** Value clip: a prediction moves at most this far from its rollout value before the clipped term takes over; 0 = off. */
      vfClip: nonNegative,
      /** The critic's own AdamW learning rate (the policy's schedule kind and warm-up apply). */
      valueLearningRate: z.number().positive(),
      /** The first steps train the critic alone (VAPO's value pretraining); they count toward `steps`. */
      valueWarmupSteps: z.number().int().nonnegative(),
    }),
    /** KL to the reference policy as a per-token reward penalty (PPO): r_t -= coef * KL_t. */
    kl: z.strictObject({
      inReward: z.boolean(),
      coef: nonNegative,
      estimator: z.enum(['k1', 'k2', 'k3']),
    }),
    evalEvery: z.number().int().nonnegative(),
    saveEvery: z.number().int().nonnegative(),
    keepLast: positiveInt,
    /** Rollouts per step written to samples.jsonl. */
    samplesPerStep: z.number().int().nonnegative(),
  })
  .strict();

export type TrainerConfig = z.infer<typeof TrainerConfigSchema>;

/** Everything but the preset's own fields, shared by every algorithm. */
const COMMON: Omit<TrainerConfig, 'algorithm' | 'advantage' | 'loss' | 'dynamicSampling' | 'overlong' | 'ppo'> = {
  steps: 100,
  seed: 0,
  batchSize: 4,
  groupSize: 8,
  numIterations: 1,
  microBatchSize: 8,
  activationCheckpointing: false,
  rolloutConcurrency: 32,
  learningRate: 1e-5,
  lrSchedule: 'constant',
  warmupSteps: 0,
  weightDecay: 0.0,
  adamBetas: [0.9, 0.999],
  adamEps: 1e-8,
  maxGradNorm: 1.0,
  creditAssignment: 'episode',
  gamma: 1,
  generation: { maxNewTokens: 64, temperature: 1.0, topP: 1.0, topK: 0, minP: 0 },
  kl: { inReward: false, coef: 0.05, estimator: 'k1' },
  evalEvery: 0,
  saveEvery: 0,
  keepLast: 2,
  samplesPerStep: 4,
};

/** The full default config of an algorithm. */
export function presetConfig(algorithm: Algorithm): TrainerConfig {
  const p = PRESETS[algorithm];
  return {
    algorithm,
    ...structuredClone(COMMON),
    advantage: { ...p.advantage, eps: 1e-4 },
    loss: { ...p.loss, klEstimator: 'k3' },
    dynamicSampling: { enabled: p.dynamicSampling, maxRounds: 3 },
    overlong: { enabled: p.overlongShaping, cacheLength: 16, maskTruncated: p.overlongShaping },
    ppo: { ...PPO_DEFAULTS, ...p.ppo },
  };
}

export type DeepPartial<T> = T extends readonly unknown[] ? T : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

/**
 * The preset of `overrides.algorithm` (default grpo) with the user's fields laid over it;
 * an invalid result throws ERR_INVALID_CONFIG listing every problem with its path.
 */
export function resolveConfig(overrides: DeepPartial<TrainerConfig> & { algorithm?: Algorithm }): TrainerConfig {
  const algorithm = overrides.algorithm ?? 'grpo';
  const base = ALGORITHMS.includes(algorithm) ? presetConfig(algorithm) : presetConfig('grpo');
  return parseConfig(TrainerConfigSchema, deepMerge(base, { ...overrides, algorithm }), 'the trainer config');
}

/** `over` laid over `base`: objects merge key by key; anything else (lists included) replaces. */
export function deepMerge(base: unknown, over: unknown): unknown {
  if (over === undefined) return base;
  if (isPlainObject(base) && isPlainObject(over)) {
    const out: Record<string, unknown> = { ...base };
    for (const [k, v] of Object.entries(over)) out[k] = deepMerge(base[k], v);
    return out;
  }
  return over;
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && !ArrayBuffer.isView(x);
}

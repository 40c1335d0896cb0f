/**
 * The options of `computePolicyLoss`, their defaults (ALGORITHMS.md section 3), and their
 * conversion into the exact arguments of the native core and the TypeScript reference.
 */
import { fail } from '../core/errors.js';
import { optional, toFloat32, toInt32, toMask, type Mask } from './inputs.js';

export type PolicyLossKind = 'token_clip' | 'gspo' | 'gspo_token' | 'cispo' | 'sft';
export type LossAggregation = 'token-mean' | 'seq-mean-token-mean' | 'seq-mean-token-sum' | 'seq-mean-token-sum-norm';
export type KlEstimator = 'k1' | 'k2' | 'k3';

export interface PolicyLossConfig {
  /** Default 'token_clip'. */
  loss?: PolicyLossKind;
  /** The ratio is clipped below at 1 - epsLow. Default 0.2 (GSPO: 3e-4; CISPO: 1, no lower bound). */
  epsLow?: number;
  /** The ratio is clipped above at 1 + epsHigh. Default 0.2 (GSPO: 4e-4; DAPO uses 0.28; CISPO: 3, a cap of 4). */
  epsHigh?: number;
  /** Dual-clip constant c > 1 (token_clip only; 3 is usual): for A < 0 the loss is at most -A * c. Default off. */
  dualClip?: number;
  /** Default 'token-mean' ('seq-mean-token-mean' for GSPO, which requires it). */
  aggregation?: LossAggregation;
  /** L_max of 'seq-mean-token-sum-norm'. Default: the most loss tokens of any sequence of the batch. */
  maxCompletionLength?: number;
  /** Weight of the KL penalty to the reference policy. Default 0 (no penalty). */
  beta?: number;
  /** Default 'k3'. */
  klEstimator?: KlEstimator;
  /** Also return d loss / d logprobs per token. Default false. */
  returnGrad?: boolean;
}

/**
 * The denominators of the aggregation modes, for gradient accumulation: pass those of the
 * whole optimizer batch to each micro-batch call and the micro-batch losses sum to the
 * full-batch loss.
 */
export interface LossNormalizer {
  /** Loss tokens in the batch. */
  tokens: number;
  /** Sequences with at least one loss token (fully masked ones are not counted). */
  sequences: number;
  /** L_max of 'seq-mean-token-sum-norm'. */
  maxLength: number;
}

export interface PolicyLossOptions {
  /** log-probs of each token under the policy being trained, all sequences back to back. */
  logprobs: Float32Array | number[];
  /** log-probs recorded at rollout time. Required by every loss but 'sft'. */
  oldLogprobs?: Float32Array | number[];
  /** log-probs of the frozen reference policy. Required when beta > 0. */
  refLogprobs?: Float32Array | number[];
  /**
   * One advantage per token, or one per sequence (broadcast to its tokens); when the two
   * lengths coincide they are read per token. Required by every loss but 'sft'.
   */
  advantages?: Float32Array | number[];
  /** 1 on loss tokens (those the policy produced), 0 elsewhere. */
  mask: Mask | number[];
  /** n+1 sequence boundaries; absent means one sequence. */
  offsets?: Int32Array | number[];
  config?: PolicyLossConfig;
  /** Denominators of the whole optimizer batch; default: this call's own. */
  normalizer?: LossNormalizer;
}

export interface PolicyLossMetrics {
  /** The aggregated policy term, without the KL penalty. */
  policy_loss: number;
  /** The aggregated KL estimate (before beta); 0 without refLogprobs. */
  kl: number;
  /** Fraction of loss tokens whose term was clipped (low + high + dual): they get no gradient (CISPO: their weight was clipped, the gradient stays). */
  clip_frac: number;
  clip_frac_low: number;
  clip_frac_high: number;
  dual_clip_frac: number;
  /** Over loss tokens, of the ratio the loss clips (GSPO: the sequence ratio); 1 without tokens or for SFT. */
  ratio_mean: number;
  ratio_min: number;
  ratio_max: number;
  /** Loss tokens in this call. */
  tokens: number;
}

export interface PolicyLossResult {
  /** policy_loss + beta * kl. A batch without loss tokens gives 0. */
  loss: number;
  metrics: PolicyLossMetrics;
  /** d loss / d logprobs per token (0 off the mask), when `config.returnGrad`. */
  grad?: Float32Array;
}

/** Every config field filled, as the native core takes it. */
export interface ResolvedLossConfig {
  loss: PolicyLossKind;
  epsLow: number;
  epsHigh: number;
  dualClip?: number;
  aggregation: LossAggregation;
  maxCompletionLength?: number;
  beta: number;
  klEstimator: KlEstimator;
}

export interface PolicyLossArgs {
  logprobs: Float32Array;
  oldLogprobs?: Float32Array;
  refLogprobs?: Float32Array;
  advantages?: Float32Array;
  mask: Uint8Array;
  offsets?: Int32Array;
  config: ResolvedLossConfig;
  normalizer?: LossNormalizer;
  returnGrad: boolean;
}

const LOSSES: readonly PolicyLossKind[] = ['token_clip', 'gspo', 'gspo_token', 'cispo', 'sft'];
const AGGREGATIONS: readonly LossAggregation[] = ['token-mean', 'seq-mean-token-mean', 'seq-mean-token-sum', 'seq-mean-token-sum-norm'];
const ESTIMATORS: readonly KlEstimator[] = ['k1', 'k2', 'k3'];

/**
 * CISPO's default clip: 1 - 1 = 0 below (MiniMax-M1 sets no lower bound on the weight) and
 * 1 + 3 = 4 above (Tinker's default clip_high_threshold).
 */
export const CISPO_EPS = { low: 1, high: 3 } as const;

/** The defaults of each loss (ALGORITHMS.md sections 3 and 4). */
export function lossDefaults(loss: PolicyLossKind): ResolvedLossConfig {
  const gspo = loss === 'gspo' || loss === 'gspo_token';
  const cispo = loss === 'cispo';
  return {
    loss,
    epsLow: gspo ? 3e-4 : cispo ? CISPO_EPS.low : 0.2,
    epsHigh: gspo ? 4e-4 : cispo ? CISPO_EPS.high : 0.2,
    aggregation: gspo ? 'seq-mean-token-mean' : 'token-mean',
    beta: 0,
    klEstimator: 'k3',
  };
}

export function policyLossArgs(options: PolicyLossOptions): PolicyLossArgs {
  if (options === null || typeof options !== 'object') {
    fail('ERR_INVALID_ARGUMENT', 'computePolicyLoss takes an options object { logprobs, oldLogprobs, advantages, mask, offsets, config }');
  }
  const config = options.config ?? {};
  return {
    logprobs: toFloat32('logprobs', options.logprobs),
    oldLogprobs: optional(options.oldLogprobs, (v) => toFloat32('oldLogprobs', v)),
    refLogprobs: optional(options.refLogprobs, (v) => toFloat32('refLogprobs', v)),
    advantages: optional(options.advantages, (v) => toFloat32('advantages', v)),
    mask: toMask('mask', options.mask),
    offsets: optional(options.offsets, (v) => toInt32('offsets', v)),
    config: resolveLossConfig(config),
    normalizer: optional(options.normalizer, normalizer),
    returnGrad: config.returnGrad ?? false,
  };
}

/** A loss configuration with its defaults applied and every field checked. */
export function resolveLossConfig(config: PolicyLossConfig): ResolvedLossConfig {
  const loss = oneOf('loss', config.loss ?? 'token_clip', LOSSES);
  const defaults = lossDefaults(loss);
  return {
    loss,
    epsLow: number('epsLow', config.epsLow ?? defaults.epsLow),
    epsHigh: number('epsHigh', config.epsHigh ?? defaults.epsHigh),
    dualClip: optional(config.dualClip, (v) => number('dualClip', v)),
    aggregation: oneOf('aggregation', config.aggregation ?? defaults.aggregation, AGGREGATIONS),
    maxCompletionLength: optional(config.maxCompletionLength, (v) => count('maxCompletionLength', v)),
    beta: number('beta', config.beta ?? defaults.beta),
    klEstimator: oneOf('klEstimator', config.klEstimator ?? defaults.klEstimator, ESTIMATORS),
  };
}

function normalizer(value: unknown): LossNormalizer {
  const n = value as LossNormalizer;
  if (typeof n !== 'object') fail('ERR_INVALID_ARGUMENT', 'normalizer must be an object { tokens, sequences, maxLength }');
  return { tokens: count('normalizer.tokens', n.tokens), sequences: count('normalizer.sequences', n.sequences), maxLength: count('normalizer.maxLength', n.maxLength) };
}

function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) {
    fail('ERR_INVALID_ARGUMENT', `unknown ${name} '${value}'; expected one of ${allowed.map((a) => `'${a}'`).join(', ')}`);
  }
  return value as T;
}

function number(name: string, value: unknown): number {
  if (typeof value !== 'number') fail('ERR_INVALID_PARAMETER', `${name} must be a number, got ${typeof value}`);
  return value;
}

/** A non-negative 32-bit integer (the native core takes counts as u32). */
function count(name: string, value: unknown): number {
  if (!(typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0xffffffff)) {
    fail('ERR_INVALID_PARAMETER', `${name} must be a non-negative integer, got ${value}`);
  }
  return value;
}

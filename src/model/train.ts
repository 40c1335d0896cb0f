/**
 * The training step's JavaScript API: the batch and configuration `Model.trainStep`
 * takes, their defaults and checks, and the metrics it returns. The step itself (forward,
 * backward, clipping, AdamW) runs natively, off the event loop.
 */
import { fail } from '../core/errors.js';
import { resolveLossConfig, type PolicyLossConfig, type PolicyLossMetrics } from '../algorithms/loss-options.js';
import { toFloat32, toInt32, toMask } from '../algorithms/inputs.js';
import type { NativeLoraOptions, NativeTrainBatch, NativeTrainConfig } from '../native.js';

/** Arrays aligned with whole sequences: index t is token t. */
export interface TrainBatch {
  /** Whole token ids (prompt + completion), one per trajectory. */
  sequences: Int32Array[];
  /** 1 on loss tokens, aligned with sequences; token 0 (no context) must be 0. */
  masks: Uint8Array[];
  /** Rollout log-probs aligned with sequences (0 where the mask is 0); not needed for sft. */
  oldLogprobs?: Float32Array[];
  /** One per sequence, or per token aligned with sequences. */
  advantages?: Float32Array | Float32Array[];
  /** Reference-policy log-probs aligned with sequences, when beta > 0. */
  refLogprobs?: Float32Array[];
}

export interface TrainStepConfig extends Omit<PolicyLossConfig, 'returnGrad'> {
  learningRate: number;
  /** Sequences per forward / backward pass; gradients accumulate over the batch. Default 8. */
  microBatchSize?: number;
  /** The global gradient norm is clipped to this. Default 1.0. */
  maxGradNorm?: number;
  /** Logits are divided by it, as in generate and score. Default 1. */
  temperature?: number;
  /** AdamW's decoupled weight decay on matrices. Default 0.01. */
  weightDecay?: number;
  /** Default [0.9, 0.999]. */
  adamBetas?: [number, number];
  /** Default 1e-8. */
  adamEps?: number;
  /**
   * Keep only each transformer block's input during the forward and recompute the block
   * in the backward: far less memory for one more forward pass. Default false.
   */
  activationCheckpointing?: boolean;
}

/** The loss's metrics over the whole batch, plus those of the optimizer step. */
export interface TrainStepMetrics extends PolicyLossMetrics {
  /** policy_loss + beta * kl. */
  loss: number;
  /** Mean entropy of the policy over loss tokens. */
  entropy: number;
  /** Global gradient norm before clipping (NaN on a skipped step). */
  grad_norm: number;
  lr: number;
  /** The log-probs, the loss or the gradient were not finite: the weights were left unchanged. */
  skipped: boolean;
  /** Steps skipped so far. */
  skipped_steps: number;
  /** Optimizer updates applied so far. */
  step: number;
  /**
   * Seconds by phase, when the layer-wise engine ran the step (every f32 model); absent
   * on candle's autograd path (f64 gradient checks), which interleaves them.
   */
  phases?: StepPhases;
}

export interface StepPhases {
  forward_s: number;
  /** Logits, loss and their gradients at the loss tokens. */
  head_s: number;
  /** The decoder's backward, recomputed blocks included. */
  backward_s: number;
  /** Clipping and AdamW. */
  optimizer_s: number;
  other_s: number;
}

/** One typed array per sequence, each converted (and checked) by `convert`. */
export function arrays<T>(name: string, value: unknown, convert: (name: string, v: unknown) => T): T[] {
  if (!Array.isArray(value)) fail('ERR_INVALID_ARGUMENT', `${name} must be an array with one typed array per sequence`);
  return value.map((v, i) => convert(`${name}[${i}]`, v));
}

function optionalArrays(name: string, value: unknown): Float32Array[] | undefined {
  return value === undefined || value === null ? undefined : arrays(name, value, toFloat32);
}

export function nativeTrainBatch(batch: TrainBatch): NativeTrainBatch {
  if (batch === null || typeof batch !== 'object') {
    fail('ERR_INVALID_ARGUMENT', 'trainStep takes a batch { sequences, masks, oldLogprobs?, advantages?, refLogprobs? }');
  }
  const perToken = Array.isArray(batch.advantages);
  return {
    sequences: arrays('sequences', batch.sequences, toInt32),
    masks: arrays('masks', batch.masks, toMask),
    oldLogprobs: optionalArrays('oldLogprobs', batch.oldLogprobs),
    advantagesPerSequence: batch.advantages === undefined || perToken ? undefined : toFloat32('advantages', batch.advantages),
    advantagesPerToken: perToken ? optionalArrays('advantages', batch.advantages) : undefined,
    refLogprobs: optionalArrays('refLogprobs', batch.refLogprobs),
  };
}

export function positive(name: string, value: unknown, integer = false): number {
  if (!(typeof value === 'number' && value > 0 && Number.isFinite(value) && (!integer || Number.isInteger(value)))) {
    fail('ERR_INVALID_PARAMETER', `${name} must be a positive ${integer ? 'integer' : 'number'}, got ${String(value)}`);
  }
  return value;
}

type OptimizerOptions = Pick<
  TrainStepConfig,
  'learningRate' | 'microBatchSize' | 'maxGradNorm' | 'weightDecay' | 'adamBetas' | 'adamEps' | 'activationCheckpointing'
>;

/**
 * The optimizer settings the policy's and the critic's steps share, checked and with their
 * defaults; `method` names the call in the error for a missing config.
 */
export function optimizerSettings(config: OptimizerOptions, method: string) {
  if (config === null || typeof config !== 'object') fail('ERR_INVALID_ARGUMENT', `${method} needs a config with at least { learningRate }`);
  if (typeof config.learningRate !== 'number') fail('ERR_INVALID_PARAMETER', `learningRate must be a number, got ${typeof config.learningRate}`);
  const [beta1, beta2] = config.adamBetas ?? [0.9, 0.999];
  return {
    learningRate: config.learningRate,
    microBatchSize: positive('microBatchSize', config.microBatchSize ?? 8, true),
    maxGradNorm: positive('maxGradNorm', config.maxGradNorm ?? 1.0),
    weightDecay: config.weightDecay ?? 0.01,
    beta1,
    beta2,
    eps: config.adamEps ?? 1e-8,
    activationCheckpointing: config.activationCheckpointing ?? false,
  };
}

export function nativeTrainConfig(config: TrainStepConfig): NativeTrainConfig {
  const settings = optimizerSettings(config, 'trainStep');
  return {
    ...settings,
    loss: resolveLossConfig(config),
    temperature: positive('temperature', config.temperature ?? 1),
  };
}

/**
 * LoRA: W + (alpha / rank) * B A on the target modules; the base stays frozen. B starts at
 * zero (step 0 is the base model), A at seeded random values.
 */
export type LoraOptions =
  | {
      rank: number;
      alpha: number;
      /**
       * Module names matched against the end of each layer's name. Default: the attention
       * projections ('q_proj', 'k_proj', 'v_proj', 'o_proj' for Llama; 'c_attn',
       * 'attn.c_proj' for GPT-2); also 'gate_proj', 'up_proj', 'down_proj', 'c_fc', 'c_proj'.
       */
      targetModules?: string[];
      /** Decides A's initial values. Default 0. */
      seed?: number;
    }
  /** A folder written by `saveAdapter` (PEFT layout). */
  | { adapter: string };

export function nativeLoraOptions(lora: LoraOptions | undefined): NativeLoraOptions | undefined {
  if (lora === undefined) return undefined;
  if (lora === null || typeof lora !== 'object') fail('ERR_INVALID_ARGUMENT', 'lora must be { rank, alpha, targetModules?, seed? } or { adapter: folder }');
  if ('adapter' in lora) {
    if (typeof lora.adapter !== 'string' || lora.adapter === '') fail('ERR_INVALID_ARGUMENT', 'lora.adapter must be the path of a saved adapter folder');
    return { adapter: lora.adapter };
  }
  const targets = lora.targetModules;
  if (targets !== undefined && !(Array.isArray(targets) && targets.every((t) => typeof t === 'string' && t !== ''))) {
    fail('ERR_INVALID_PARAMETER', 'lora.targetModules must be an array of module names such as q_proj');
  }
  const seed = lora.seed ?? 0;
  if (!(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32)) fail('ERR_INVALID_PARAMETER', `lora.seed must be a 32-bit unsigned integer, got ${seed}`);
  return {
    rank: positive('lora.rank', lora.rank, true),
    alpha: positive('lora.alpha', lora.alpha),
    targetModules: targets,
    seed,
  };
}

/**
 * A critic for PPO: a scalar value head on a decoder, made from a policy model by
 * `model.createCritic()`. It is a trainable copy of the policy's current weights, or, when
 * the policy trains LoRA adapters, new adapters on the policy's own frozen base (no second
 * copy of the base in memory). It has its own AdamW, learning rate and state folder.
 *
 * values[j] of a sequence is V of the state before token start + j, read from the hidden
 * state the policy's log-prob of that token comes from, so `values` lines up with `score`.
 */
import { fail } from '../core/errors.js';
import { toFloat32, toInt32, toMask } from '../algorithms/inputs.js';
import { callNativeAsync, type NativeCritic } from '../native.js';
import { tokenArrays } from './options.js';
import { arrays, optimizerSettings, positive } from './train.js';

/** Arrays aligned with whole sequences: index t is token t, its value that of the state before it. */
export interface ValueBatch {
  sequences: Int32Array[];
  /** 1 where the value is trained (the tokens the policy sampled); token 0 must be 0. */
  masks: Uint8Array[];
  /** The regression targets (GAE returns). */
  returns: Float32Array[];
  /** The values the rollout was scored with; required with `vfClip`. */
  oldValues?: Float32Array[];
}

export interface CriticStepConfig {
  learningRate: number;
  /** Sequences per forward / backward pass; gradients accumulate over the batch. Default 8. */
  microBatchSize?: number;
  /**
   * PPO's value clip: 0.5 * max((V - R)^2, (V_clip - R)^2) with V_clip = V_old +
   * clip(V - V_old, -vfClip, vfClip). Default: no clip, 0.5 * (V - R)^2.
   */
  vfClip?: number;
  /** Default 1.0. */
  maxGradNorm?: number;
  /** Default 0.01. */
  weightDecay?: number;
  /** Default [0.9, 0.999]. */
  adamBetas?: [number, number];
  /** Default 1e-8. */
  adamEps?: number;
  /** Default false. */
  activationCheckpointing?: boolean;
}

export interface CriticStepMetrics {
  /** The batch's value loss, token-mean over the masked tokens, before the update. */
  value_loss: number;
  /** Fraction of tokens whose clipped term was the larger (no gradient). */
  value_clip_frac: number;
  value_mean: number;
  return_mean: number;
  grad_norm: number;
  lr: number;
  skipped: boolean;
  skipped_steps: number;
  /** Critic updates applied so far. */
  step: number;
  tokens: number;
}

export interface CriticInfo {
  /** LoRA adapters on the policy's base, or a full copy. */
  lora: boolean;
  /** Numbers the critic's optimizer updates (trunk or adapters, and the head). */
  trainableParameters: number;
  /** True when the critic's base weights are the policy's own tensors (no copy). */
  sharesPolicyBase: boolean;
}

export class Critic {
  readonly #native: NativeCritic;

  /** Use `model.createCritic()`. */
  constructor(handle: NativeCritic) {
    this.#native = handle;
  }

  get info(): CriticInfo {
    const i = this.#native.info();
    return { lora: i.lora, trainableParameters: i.trainableParameters, sharesPolicyBase: i.sharesPolicyBase };
  }

  /** V of the state before each token from `start` (default 1) on, per sequence. */
  async values(sequences: Int32Array[], options: { start?: number } = {}): Promise<Float32Array[]> {
    const start = options.start ?? 1;
    if (!(Number.isInteger(start) && start >= 1)) fail('ERR_INVALID_PARAMETER', `start must be an integer >= 1, got ${start}`);
    const arrays = tokenArrays('sequences', sequences);
    return callNativeAsync(() => this.#native.values(arrays, start));
  }

  /** One optimizer step of the (clipped) value loss over `batch`, micro-batched. */
  async trainStep(batch: ValueBatch, config: CriticStepConfig): Promise<CriticStepMetrics> {
    if (batch === null || typeof batch !== 'object') fail('ERR_INVALID_ARGUMENT', 'critic.trainStep takes a batch { sequences, masks, returns, oldValues? }');
    const native = {
      sequences: arrays('sequences', batch.sequences, toInt32),
      masks: arrays('masks', batch.masks, toMask),
      returns: arrays('returns', batch.returns, toFloat32),
      oldValues: batch.oldValues === undefined ? undefined : arrays('oldValues', batch.oldValues, toFloat32),
    };
    return callNativeAsync(() => this.#native.trainStep(native, nativeCriticConfig(config)));
  }

  /** Writes the value head, the trunk (or its adapters) and the optimizer state into `dir`. */
  async save(dir: string): Promise<void> {
    await callNativeAsync(() => this.#native.save(folder('save', dir)));
  }

  /** Restores a state written by `save` for a critic of the same model and LoRA setting. */
  async load(dir: string): Promise<void> {
    await callNativeAsync(() => this.#native.load(folder('load', dir)));
  }
}

function folder(method: string, dir: unknown): string {
  if (typeof dir !== 'string' || dir === '') fail('ERR_INVALID_ARGUMENT', `critic.${method} needs a folder path`);
  return dir;
}

function nativeCriticConfig(config: CriticStepConfig) {
  const settings = optimizerSettings(config, 'critic.trainStep');
  return { ...settings, valueClip: config.vfClip === undefined ? undefined : positive('vfClip', config.vfClip) };
}

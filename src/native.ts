/**
 * Loads the Rust core (the napi-rs addon). Nothing else imports the addon directly:
 * every call goes through `callNative`, which turns native errors into StatesetError.
 */
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { addonPath, prebuiltPackageName, SOURCE_ADDON } from '../scripts/native-target.mjs';
import { StatesetError, type ErrorCode } from './core/errors.js';
import type { LossNormalizer, PolicyLossMetrics, PolicyLossResult, ResolvedLossConfig } from './algorithms/loss-options.js';
import type { ModelInfo } from './io/types.js';
import type { TinySize } from './io/models.js';
import type { TrainStepMetrics } from './model/train.js';
import type { CriticStepMetrics } from './model/critic.js';

/** A training step's metrics as the addon returns them: the loss's own metrics nested. */
export type NativeTrainMetrics = Omit<TrainStepMetrics, keyof PolicyLossMetrics> & { policy: PolicyLossMetrics };

export interface NativeGenerateOptions {
  maxNewTokens: number;
  temperature: number;
  topP: number;
  topK: number;
  minP: number;
  repetitionPenalty: number;
  stopTokenIds: number[] | undefined;
  seed: number;
  /** One seed per prompt; absent: row i is seeded by (seed, i). */
  seeds?: number[];
}

export interface NativeScoreOptions {
  start: number;
  temperature: number;
  entropy: boolean;
}

/** The addon's `Model` class. */
export interface NativeModel {
  config(): ModelInfo;
  tokenize(text: string): Int32Array;
  tokenizeAsync(text: string): Promise<Int32Array>;
  detokenize(ids: Int32Array): string;
  generate(
    prompts: Int32Array[],
    options: NativeGenerateOptions,
  ): Promise<Array<{ tokens: Int32Array; logprobs: Float32Array; finishReason: string }>>;
  score(sequences: Int32Array[], options: NativeScoreOptions): Promise<Array<{ logprobs: Float32Array; entropy?: Float32Array }>>;
  save(dir: string): Promise<void>;
  trainStep(batch: NativeTrainBatch, config: NativeTrainConfig): Promise<NativeTrainMetrics>;
  saveTrainingState(dir: string): Promise<void>;
  loadTrainingState(dir: string): Promise<void>;
  saveAdapter(dir: string, baseModel: string | undefined): Promise<void>;
  createCritic(seed: number): Promise<NativeCritic>;
}

/** The addon's `Critic` class (crates/node/src/critic.rs). */
export interface NativeCritic {
  info(): { lora: boolean; trainableParameters: number; sharesPolicyBase: boolean };
  values(sequences: Int32Array[], start: number): Promise<Float32Array[]>;
  trainStep(
    batch: { sequences: Int32Array[]; masks: Uint8Array[]; returns: Float32Array[]; oldValues?: Float32Array[] },
    config: {
      learningRate: number;
      microBatchSize: number;
      valueClip: number | undefined;
      maxGradNorm: number;
      weightDecay: number;
      beta1: number;
      beta2: number;
      eps: number;
      activationCheckpointing: boolean;
    },
  ): Promise<CriticStepMetrics>;
  save(dir: string): Promise<void>;
  load(dir: string): Promise<void>;
}

export interface NativeLoraOptions {
  adapter?: string;
  rank?: number;
  alpha?: number;
  targetModules?: string[];
  seed?: number;
}

export interface NativeTrainBatch {
  sequences: Int32Array[];
  masks: Uint8Array[];
  oldLogprobs?: Float32Array[];
  advantagesPerSequence?: Float32Array;
  advantagesPerToken?: Float32Array[];
  refLogprobs?: Float32Array[];
}

export interface NativeTrainConfig {
  loss: ResolvedLossConfig;
  learningRate: number;
  microBatchSize: number;
  maxGradNorm: number;
  temperature: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
  activationCheckpointing: boolean;
}

/** The functions the addon exports (crates/node/src). */
export interface NativeCore {
  computeGae(
    rewards: Float32Array,
    values: Float32Array,
    dones: Uint8Array | undefined,
    mask: Uint8Array | undefined,
    offsets: Int32Array | undefined,
    bootstrap: Float32Array | undefined,
    gamma: number,
    lambda: number,
    whiten: boolean,
  ): { advantages: Float32Array; returns: Float32Array };
  /** computeGae written into `advantages` and `returns`, which must not share memory with the inputs. */
  computeGaeInto(
    rewards: Float32Array,
    values: Float32Array,
    dones: Uint8Array | undefined,
    mask: Uint8Array | undefined,
    offsets: Int32Array | undefined,
    bootstrap: Float32Array | undefined,
    gamma: number,
    lambda: number,
    whiten: boolean,
    advantages: Float32Array,
    returns: Float32Array,
  ): void;
  groupAdvantages(
    rewards: Float32Array,
    groupSize: number | undefined,
    groupIds: Int32Array | undefined,
    estimator: string,
    scale: string,
    eps: number,
  ): Float32Array;
  groupAdvantagesInto(
    rewards: Float32Array,
    groupSize: number | undefined,
    groupIds: Int32Array | undefined,
    estimator: string,
    scale: string,
    eps: number,
    out: Float32Array,
  ): void;
  whiten(values: Float32Array, mask: Uint8Array | undefined): Float32Array;
  whitenInto(values: Float32Array, mask: Uint8Array | undefined, out: Float32Array): void;
  runningStats(values: Float32Array): Float64Array;
  computePolicyLoss(
    logprobs: Float32Array,
    oldLogprobs: Float32Array | undefined,
    refLogprobs: Float32Array | undefined,
    advantages: Float32Array | undefined,
    mask: Uint8Array,
    offsets: Int32Array | undefined,
    config: ResolvedLossConfig,
    normalizer: LossNormalizer | undefined,
    returnGrad: boolean,
  ): PolicyLossResult;
  learningRate(
    schedule: { kind: string; lr: number; warmupSteps: number; totalSteps: number; minLrRatio: number },
    step: number,
  ): number;
  __panicForTests(): void;
  loadModel(path: string, threads: number | undefined, lora?: NativeLoraOptions): Promise<NativeModel>;
  randomModel(configJson: string, seed: number, threads: number | undefined, lora?: NativeLoraOptions): Promise<NativeModel>;
  matmulGflops(n: number, reps: number): number;
  copyGbps(bytes: number, reps: number): number;
  __panicInTaskForTests(): Promise<void>;
  makeTinyModel(arch: string, outDir: string, seed: number | undefined, size: TinySize | undefined, addedTokens: string[] | undefined): ModelInfo;
  inspectModel(path: string): Promise<ModelInfo>;
  convertModel(path: string, outDir: string): Promise<ModelInfo>;
  exportGguf(options: NativeExportOptions): Promise<NativeGgufExport>;
  Tokenizer: { load(path: string): NativeTokenizer };
}

/** A GGUF export (crates/node/src/export.rs). */
export interface NativeExportOptions {
  model: string;
  adapter?: string;
  to: string;
  tensorType: string;
  name?: string;
}

export interface NativeGgufExport {
  architecture: string;
  tokenizerPre: string;
  tensors: number;
  bytes: number;
  f16Fallbacks: string[];
}

/** A model tokenizer held by the native core (crates/node/src/io.rs). */
export interface NativeTokenizer {
  encode(text: string): Uint32Array;
  decode(ids: Uint32Array): string;
  readonly vocabSize: number;
  tokenToId(token: string): number | null;
  idToToken(id: number): string | null;
}

// The native thread pool reads this once, at load. Training awaits native work, so the
// JavaScript thread is idle meanwhile and every core can compute; users who run other
// work beside training can lower it.
process.env.RAYON_NUM_THREADS ??= String(availableParallelism());

/**
 * The addon of a source build (native/, made when no prebuilt addon matched or when asked
 * with STATESET_BUILD_FROM_SOURCE=1), else this platform's prebuilt package
 * (stateset-agents-linux-x64-gnu, ...; see scripts/native-target.mjs).
 */
function loadAddon(): NativeCore {
  const path = addonPath();
  if (path === undefined) {
    throw new StatesetError(
      'ERR_NATIVE_MISSING',
      `the native core is not installed: no prebuilt package for this platform (${prebuiltPackageName()}) and no source build (${SOURCE_ADDON}). ` +
        'Reinstall with optional dependencies (npm install --include=optional), or build it from source: STATESET_BUILD_FROM_SOURCE=1 npm rebuild stateset-agents (needs Rust: https://rustup.rs).',
    );
  }
  try {
    return createRequire(import.meta.url)(path) as NativeCore;
  } catch (cause) {
    throw new StatesetError(
      'ERR_NATIVE_MISSING',
      `the native core could not be loaded from ${path}: ${(cause as Error).message}. ` +
        'Rebuild it from source with STATESET_BUILD_FROM_SOURCE=1 npm rebuild stateset-agents (in a checkout: npm run build; needs Rust: https://rustup.rs).',
      { cause },
    );
  }
}

export const native: NativeCore = loadAddon();

const CODED = /^\[(ERR_[A-Z_]+)\] ([\s\S]*)$/;

/** Runs a native call; errors come back as StatesetError with the core's code. */
export function callNative<T>(call: () => T): T {
  try {
    return call();
  } catch (err) {
    throw toStatesetError(err);
  }
}

/** Awaits a native async task; its errors come back as StatesetError with the core's code. */
export async function callNativeAsync<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw toStatesetError(err);
  }
}

export function toStatesetError(err: unknown): StatesetError {
  if (err instanceof StatesetError) return err;
  const e = err as Error & { code?: string };
  const coded = CODED.exec(e?.message ?? '');
  if (coded) return new StatesetError(coded[1] as ErrorCode, coded[2], { cause: err });
  // Status GenericFailure comes only from a caught panic: the core's own errors are coded.
  if (e?.code === 'GenericFailure') {
    return new StatesetError('ERR_NATIVE_PANIC', `the native core panicked: ${e.message}. This is a bug; please report it.`, { cause: err });
  }
  return new StatesetError('ERR_INVALID_ARGUMENT', e?.message ?? String(err), { cause: err });
}

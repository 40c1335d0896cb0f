/**
 * The model engine's JavaScript API: `loadModel(path)` gives a `Model` that tokenizes,
 * generates (batched, with a KV cache) and scores token sequences, and saves itself as
 * a HuggingFace folder. Generation, scoring, loading and saving run on native threads,
 * off the event loop.
 */
import type { ComputeBackend } from '../backends/compute-backend.js';
import { fail } from '../core/errors.js';
import { callNative, callNativeAsync, native, type NativeModel } from '../native.js';
import type { ModelInfo } from '../io/types.js';
import { resolve } from 'node:path';
import { adapterBase } from './adapter-folder.js';
import { resolveModelPath } from '../io/hub/resolve.js';
import { Critic } from './critic.js';
import { generateOptions, scoreOptions, tokenArrays } from './options.js';
import { nativeLoraOptions, nativeTrainBatch, nativeTrainConfig, type TrainBatch, type TrainStepConfig, type TrainStepMetrics } from './train.js';
import type { Completion, GenerateOptions, LoadModelOptions, ModelConfig, ScoreOptions, ScoreResult } from './types.js';

/** The native compute backend: the in-process Rust engine. */
export class Model implements ComputeBackend {
  readonly kind = 'native';
  readonly config: ModelConfig;
  /** The absolute path the base weights were loaded from (undefined for a random model). */
  readonly source?: string;
  readonly #native: NativeModel;

  /** Use `loadModel`. */
  constructor(handle: NativeModel, source?: string) {
    this.#native = handle;
    this.source = source;
    this.config = modelConfigOf(callNative(() => handle.config()));
  }

  /** Text to token ids. Special-token strings in the text (e.g. `<|im_end|>`) become their ids. */
  tokenize(text: string): Int32Array {
    if (typeof text !== 'string') fail('ERR_INVALID_ARGUMENT', `tokenize takes a string, got ${typeof text}`);
    return callNative(() => this.#native.tokenize(text));
  }

  /**
   * `tokenize` on a worker thread: the event loop stays free meanwhile (a BPE tokenizer
   * takes about 1.5 s per MiB of text), e.g. for the other requests a server is handling.
   */
  async tokenizeAsync(text: string): Promise<Int32Array> {
    if (typeof text !== 'string') fail('ERR_INVALID_ARGUMENT', `tokenize takes a string, got ${typeof text}`);
    return callNativeAsync(() => this.#native.tokenizeAsync(text));
  }

  /** Token ids to text, special tokens included. */
  detokenize(ids: Int32Array | number[]): string {
    const [array] = tokenArrays('ids', [ids]);
    return callNative(() => this.#native.detokenize(array));
  }

  /** Samples a completion of every prompt, all prompts in one batch. */
  async generate(prompts: Int32Array[], options: GenerateOptions): Promise<Completion[]> {
    const arrays = tokenArrays('prompts', prompts);
    const native = generateOptions(options, this.config.generation, arrays.length);
    const out = await callNativeAsync(() => this.#native.generate(arrays, native));
    return out.map((c) => ({ tokens: c.tokens, logprobs: c.logprobs, finishReason: c.finishReason as Completion['finishReason'] }));
  }

  /**
   * Log-probabilities (and optionally entropies) of the tokens of each sequence from
   * `start` on, as the trainer computes them; no gradient is kept.
   */
  async score(sequences: Int32Array[], options?: ScoreOptions): Promise<ScoreResult[]> {
    const arrays = tokenArrays('sequences', sequences);
    const out = await callNativeAsync(() => this.#native.score(arrays, scoreOptions(options)));
    return out.map((s) => (s.entropy ? { logprobs: s.logprobs, entropy: s.entropy } : { logprobs: s.logprobs }));
  }

  /**
   * One optimizer step over `batch` (micro-batched forward and backward, global-norm
   * clipping, AdamW). Generation and scoring use the updated weights at once.
   */
  async trainStep(batch: TrainBatch, config: TrainStepConfig): Promise<TrainStepMetrics> {
    const args = [nativeTrainBatch(batch), nativeTrainConfig(config)] as const;
    const { policy, ...step } = await callNativeAsync(() => this.#native.trainStep(...args));
    return { ...policy, ...step };
  }

  /**
   * A critic (value head on a decoder) starting from this model's current weights: a
   * trainable copy, or, when this model trains LoRA, new adapters on this model's own
   * frozen base. `seed` decides the head's (and adapters') initial values.
   */
  async createCritic(options: { seed?: number } = {}): Promise<Critic> {
    const seed = options.seed ?? 0;
    if (!(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32)) fail('ERR_INVALID_PARAMETER', `seed must be a 32-bit unsigned integer, got ${seed}`);
    return new Critic(await callNativeAsync(() => this.#native.createCritic(seed)));
  }

  /** Writes the model (current weights, LoRA adapters merged) as a HuggingFace folder. */
  async save(dir: string): Promise<void> {
    const path = folder('save', dir);
    await callNativeAsync(() => this.#native.save(path));
  }

  /** Writes the optimizer's moments and step counters (and the LoRA adapters, if any). */
  async saveTrainingState(dir: string): Promise<void> {
    const path = folder('saveTrainingState', dir);
    await callNativeAsync(() => this.#native.saveTrainingState(path));
  }

  /** Restores a saved training state, so that a resumed run continues exactly where it stopped. */
  async loadTrainingState(dir: string): Promise<void> {
    const path = folder('loadTrainingState', dir);
    await callNativeAsync(() => this.#native.loadTrainingState(path));
  }

  /**
   * Writes the LoRA adapters in the PEFT layout (adapter_config.json, adapter_model.safetensors),
   * with the base model's path, so that `loadModel(dir)` loads base and adapter together.
   */
  async saveAdapter(dir: string): Promise<void> {
    const path = folder('saveAdapter', dir);
    await callNativeAsync(() => this.#native.saveAdapter(path, this.source));
  }
}

function folder(method: string, dir: unknown): string {
  if (typeof dir !== 'string' || dir === '') fail('ERR_INVALID_ARGUMENT', `${method} needs a folder path`);
  return dir;
}

function threadsOf(options: LoadModelOptions | undefined): number | undefined {
  const threads = options?.threads;
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1 && threads <= 1024)) {
    fail('ERR_INVALID_PARAMETER', `threads must be an integer from 1 to 1024, got ${String(threads)}`);
  }
  return threads;
}

/**
 * Loads a HuggingFace model folder, a GGUF file, or a Hub model id (`owner/name`, downloaded
 * into the Hub cache on first use; `revision` and `ggufFile` pick what to download).
 */
export async function loadModel(model: string, options?: LoadModelOptions): Promise<Model> {
  if (typeof model !== 'string' || model === '') fail('ERR_INVALID_ARGUMENT', 'loadModel needs a model folder, a .gguf file or a Hub model id (owner/name)');
  const threads = threadsOf(options);
  const path = await resolveModelPath(model, { revision: options?.revision, ggufFile: options?.ggufFile });
  const base = adapterBase(path);
  if (base !== undefined && options?.lora !== undefined) fail('ERR_INVALID_ARGUMENT', `${path} is a LoRA adapter already; load it without a lora option.`);
  const lora = nativeLoraOptions(base === undefined ? options?.lora : { adapter: path });
  const source = resolve(base ?? path);
  return new Model(await callNativeAsync(() => native.loadModel(source, threads, lora)), source);
}

/**
 * A model of any shape (a HuggingFace config.json object) with seeded random weights and
 * the built-in tiny tokenizer: for benchmarks and tests that need real shapes, not real
 * weights.
 */
export async function randomModel(config: Record<string, unknown>, options?: LoadModelOptions & { seed?: number }): Promise<Model> {
  const threads = threadsOf(options);
  const seed = options?.seed ?? 0;
  if (!(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32)) fail('ERR_INVALID_PARAMETER', `seed must be a 32-bit unsigned integer, got ${seed}`);
  const lora = nativeLoraOptions(options?.lora);
  return new Model(await callNativeAsync(() => native.randomModel(JSON.stringify(config), seed, threads, lora)));
}

/** A model's config as the engine reports it, in the shape agents and backends use. */
export function modelConfigOf(info: ModelInfo): ModelConfig {
  return {
    ...info.config,
    bosToken: info.bos?.text,
    bosTokenId: info.bos?.id,
    eosToken: info.eos[0]?.text,
    eosTokens: info.eos.map((t) => t.text),
    eosTokenIds: info.stopTokenIds,
    padToken: info.pad?.text,
    padTokenId: info.pad?.id,
    chatTemplate: info.chatTemplate,
    generation: info.generation,
  };
}

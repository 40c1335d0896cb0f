/**
 * Model files: make tiny models, inspect HuggingFace folders and GGUF files, load a
 * model's tokenizer. Loading and validation happen in the native core (crates/rl-core/src/io).
 */
import { callNative, native, toStatesetError, type NativeTokenizer } from '../native.js';
import { fail } from '../core/errors.js';
import type { Architecture, ModelInfo } from './types.js';

export interface MakeTinyModelOptions {
  arch: Architecture;
  /** Folder to write the HuggingFace files into (created if missing). */
  outDir: string;
  /** Decides the random weights; the tokenizer is the same for every seed. Default 0. */
  seed?: number;
  /** The shape; missing fields keep the default (hidden 64, 2 layers, 4 heads). */
  size?: TinySize;
  /**
   * Strings added to the vocabulary after the trained BPE tokens, each encoding as one
   * token (e.g. a task's fixed tool-call syntax). Distinct and non-empty. Default none.
   */
  addedTokens?: string[];
}

export interface TinySize {
  hiddenSize?: number;
  numLayers?: number;
  /** Must divide hiddenSize (Llama: an even number, keys and values get half). */
  numHeads?: number;
}

/**
 * Writes a tiny random model (by default hidden 64, 2 layers; ~700-token byte-level BPE,
 * ChatML template) as a HuggingFace folder, for tests and quick demos.
 */
export function makeTinyModel(options: MakeTinyModelOptions): ModelInfo {
  const { arch, outDir, seed, size, addedTokens } = options;
  if (seed !== undefined && !(Number.isSafeInteger(seed) && seed >= 0)) {
    fail('ERR_INVALID_ARGUMENT', `seed must be a non-negative integer, got ${seed}`);
  }
  for (const [name, value] of Object.entries(size ?? {})) {
    if (value !== undefined && !(Number.isSafeInteger(value) && value >= 1)) fail('ERR_INVALID_ARGUMENT', `size.${name} must be a positive integer, got ${value}`);
  }
  if (addedTokens !== undefined && !(Array.isArray(addedTokens) && addedTokens.every((t) => typeof t === 'string'))) {
    fail('ERR_INVALID_ARGUMENT', 'addedTokens must be an array of strings');
  }
  return callNative(() => native.makeTinyModel(arch, outDir, seed, size, addedTokens));
}

/** Loads a HuggingFace folder or .gguf file, validates every tensor, and describes it. */
export function inspectModel(path: string): Promise<ModelInfo> {
  return settle(() => native.inspectModel(path));
}

/**
 * Loads a HuggingFace folder or .gguf file (dequantized to f32) and writes it to `outDir`
 * as a HuggingFace folder that Python transformers loads.
 */
export function convertModel(path: string, outDir: string): Promise<ModelInfo> {
  return settle(() => native.convertModel(path, outDir));
}

async function settle<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw toStatesetError(err);
  }
}

/**
 * A model's tokenizer. `encode` adds no special tokens of its own but recognizes special
 * token text (as a chat template writes it); `decode` keeps special tokens, so a rendered
 * conversation round-trips.
 */
export class Tokenizer {
  private constructor(private readonly inner: NativeTokenizer) {}

  /** From a HuggingFace folder (tokenizer.json) or a .gguf file (its metadata only). */
  static load(path: string): Tokenizer {
    return new Tokenizer(callNative(() => native.Tokenizer.load(path)));
  }

  encode(text: string): Uint32Array {
    return callNative(() => this.inner.encode(text));
  }

  decode(ids: ArrayLike<number>): string {
    const array = ids instanceof Uint32Array ? ids : Uint32Array.from(ids);
    return callNative(() => this.inner.decode(array));
  }

  get vocabSize(): number {
    return this.inner.vocabSize;
  }

  tokenToId(token: string): number | undefined {
    return this.inner.tokenToId(token) ?? undefined;
  }

  idToToken(id: number): string | undefined {
    return this.inner.idToToken(id) ?? undefined;
  }
}

/** The public types of the model engine: configuration, generation and scoring. */

import type { GenerationDefaults, ModelConfigInfo } from '../io/types.js';
import type { LoraOptions } from './train.js';
import type { ModelSource } from '../io/hub/resolve.js';

/** The model's shape, special tokens, chat template and sampling defaults. */
export interface ModelConfig extends ModelConfigInfo {
  bosToken?: string;
  bosTokenId?: number;
  /** The first end-of-sequence token (ChatML models: the end-of-turn token). */
  eosToken?: string;
  eosTokens: string[];
  /** Every token that ends a generation by default. */
  eosTokenIds: number[];
  padToken?: string;
  padTokenId?: number;
  /** The chat template (Jinja, HuggingFace style), when the model has one. */
  chatTemplate?: string;
  generation: GenerationDefaults;
}

/** `revision` and `ggufFile` pick the version and file of a Hub model id (src/io/hub). */
export interface LoadModelOptions extends ModelSource {
  /**
   * Threads of this model's own pool, which runs its matrix products, sampling and
   * scoring (default: the process-wide pool, RAYON_NUM_THREADS). candle's elementwise
   * kernels share one process-wide pool whatever this says.
   */
  threads?: number;
  /** Train LoRA adapters instead of every weight (fresh ones, or a saved adapter folder). */
  lora?: LoraOptions;
}

/**
 * Sampling options. Unset options take the model's generation defaults, then the values
 * below. Top-k, top-p, min-p and the repetition penalty only shape which token is drawn:
 * the returned log-probabilities are always those of log_softmax(logits / temperature)
 * over the full vocabulary, exactly what `score` and the trainer compute.
 */
export interface GenerateOptions {
  /** Tokens to generate per prompt at most. */
  maxNewTokens: number;
  /** 0 = greedy (log-probs then at temperature 1). Default 1. */
  temperature?: number;
  /** Nucleus mass in (0, 1]; 1 = off (default). */
  topP?: number;
  /** Keep the k most likely tokens; 0 = off (default). */
  topK?: number;
  /** Keep tokens at least minP times as likely as the most likely; 0 = off (default). */
  minP?: number;
  /** > 1 discourages tokens already in the sequence; 1 = off (default). */
  repetitionPenalty?: number;
  /** Tokens that end a completion (kept in it). Default: config.eosTokenIds. */
  stopTokenIds?: number[];
  /** Same seed, same prompts, same options: same tokens. Default 0. */
  seed?: number;
  /**
   * One seed per prompt (integers in [0, 2^53)), instead of `seed`: each prompt's tokens
   * then depend on its own seed alone, not on the other prompts of the batch or its place
   * among them. Rollouts give every sample its own.
   */
  seeds?: number[];
}

export interface Completion {
  /** The generated tokens (the stop token included when one ended the completion). */
  tokens: Int32Array;
  /** logprobs[i] = log p(tokens[i]) under log_softmax(logits / temperature). */
  logprobs: Float32Array;
  finishReason: 'stop' | 'length';
}

export interface ScoreOptions {
  /** Index of the first token to score (default 1: token 0 has no context). */
  start?: number;
  /** Default 1. */
  temperature?: number;
  /** Also return the entropy of each predictive distribution. Default false. */
  entropy?: boolean;
}

export interface ScoreResult {
  /** logprobs[j] = log p(sequence[start + j] | sequence[0 .. start + j]). */
  logprobs: Float32Array;
  entropy?: Float32Array;
}

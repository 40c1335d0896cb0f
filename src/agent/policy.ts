/**
 * The few members of a loaded model that agents and rollouts use. A model from
 * `loadModel` has them; declaring them here keeps this layer independent of the engine.
 */

export interface PolicyConfig {
  architecture: string;
  /** The model's own chat template (jinja), when it ships one. */
  chatTemplate?: string;
  /** Ids that end an assistant turn. */
  eosTokenIds: number[];
  bosToken?: string;
  eosToken?: string;
  /** Positions the model attends over; rollouts end an episode there. Absent: no bound known. */
  maxPositionEmbeddings?: number;
}

export interface PolicyGenerateOptions {
  maxNewTokens: number;
  temperature: number;
  topP: number;
  topK: number;
  minP?: number;
  repetitionPenalty?: number;
  stopTokenIds?: number[];
  seed: number;
  /**
   * One seed per prompt, used instead of `seed`: each prompt's tokens then depend on its
   * own seed, not on the batch it shares. Rollouts give every sample its own.
   */
  seeds?: number[];
}

export interface PolicyCompletion {
  /** Sampled ids; they include the stop token when `finishReason` is 'stop'. */
  tokens: Int32Array;
  /** Log-probability of each sampled id under the policy. */
  logprobs: Float32Array;
  finishReason: 'stop' | 'length';
}

export interface Policy {
  readonly config: PolicyConfig;
  tokenize(text: string): Int32Array;
  /** `tokenize` off the calling thread, when the policy can; agents fall back to `tokenize`. */
  tokenizeAsync?(text: string): Promise<Int32Array>;
  detokenize(ids: Int32Array): string;
  generate(prompts: Int32Array[], options: PolicyGenerateOptions): Promise<PolicyCompletion[]>;
}

/** What a model folder or GGUF file holds, as the native core reports it. */

export type Architecture = 'gpt2' | 'llama';

export interface SpecialToken {
  text: string;
  id: number;
}

export interface ModelConfigInfo {
  architecture: Architecture;
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  /** Key/value heads (grouped-query attention); equals numHeads without GQA. */
  numKvHeads: number;
  headDim: number;
  intermediateSize: number;
  maxPositionEmbeddings: number;
  ropeTheta: number;
  tieWordEmbeddings: boolean;
  numParameters: number;
}

/** Sampling defaults recommended by the model's authors (generation_config.json). */
export interface GenerationDefaults {
  temperature?: number;
  topP?: number;
  topK?: number;
  repetitionPenalty?: number;
  maxNewTokens?: number;
}

export interface ModelInfo {
  config: ModelConfigInfo;
  chatTemplate?: string;
  bos?: SpecialToken;
  /** Every token that ends a generation. */
  eos: SpecialToken[];
  pad?: SpecialToken;
  /** Every token that ends a generation by default (the eos tokens and the config's eos ids). */
  stopTokenIds: number[];
  generation: GenerationDefaults;
  /** Number of tokens of the tokenizer, added tokens included. */
  tokenizerSize: number;
}

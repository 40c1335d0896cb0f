/** Model shapes the benchmarks build with random weights (HuggingFace config.json fields). */
export const SMOLLM2_135M_SHAPE = {
  model_type: 'llama',
  hidden_size: 576,
  num_hidden_layers: 30,
  num_attention_heads: 9,
  num_key_value_heads: 3,
  intermediate_size: 1536,
  vocab_size: 49152,
  max_position_embeddings: 2048,
  rope_theta: 100000,
  tie_word_embeddings: true,
};

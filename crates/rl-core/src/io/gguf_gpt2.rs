//! GPT-2 in GGUF, as llama.cpp's converter writes it: `gpt2.*` metadata, learned positions
//! (`position_embd.weight`), fused q/k/v (`attn_qkv`), LayerNorm weights and biases, the
//! lm_head tied to the token embedding, and matrices in Linear layout [out, in].

use super::errors::invalid;
use super::gguf_metadata::Metadata;
use super::special_tokens::SpecialTokenSources;
use crate::error::Result;
use crate::model::{Architecture, ConfigKeys, ModelConfig, TensorShapes};

/// GPT-2's Conv1D matrices, which HuggingFace stores [in, out] and llama.cpp [out, in].
pub fn is_conv1d(hf_name: &str) -> bool {
    hf_name.ends_with(".weight") && [".attn.c_attn.", ".attn.c_proj.", ".mlp.c_fc.", ".mlp.c_proj."].iter().any(|m| hf_name.contains(m))
}

/// `shapes`: every tensor's shape by HuggingFace name, in HuggingFace's layout.
pub fn gpt2_config(meta: &Metadata, shapes: &TensorShapes, special: &SpecialTokenSources) -> Result<ModelConfig> {
    let hidden = meta.usize("gpt2.embedding_length")?;
    let heads = meta.usize("gpt2.attention.head_count")?;
    if hidden % heads != 0 {
        return Err(invalid(format!("{}: gpt2.attention.head_count ({heads}) must divide gpt2.embedding_length ({hidden})", meta.source)));
    }
    let rows = |hf: &str, gguf: &str| -> Result<usize> {
        match shapes.get(hf).map(Vec::as_slice) {
            Some([rows, _]) => Ok(*rows),
            Some(other) => Err(invalid(format!("{}: tensor '{gguf}' has shape {other:?}; it must be a matrix", meta.source))),
            None => Err(invalid(format!("{} has no tensor '{gguf}'", meta.source))),
        }
    };
    let config = ModelConfig {
        architecture: Architecture::Gpt2,
        vocab_size: rows("transformer.wte.weight", "token_embd.weight")?,
        hidden_size: hidden,
        num_layers: meta.usize("gpt2.block_count")?,
        num_heads: heads,
        num_kv_heads: heads,
        head_dim: hidden / heads,
        intermediate_size: meta.opt_u64("gpt2.feed_forward_length")?.map_or(4 * hidden, |n| n as usize),
        // The position table decides how far the model can see.
        max_position_embeddings: rows("transformer.wpe.weight", "position_embd.weight")?,
        norm_eps: meta.opt_f64("gpt2.attention.layer_norm_epsilon")?.unwrap_or(1e-5),
        rope_theta: 0.0,
        rope_scaling: None,
        tie_word_embeddings: true,
        attention_bias: true,
        bos_token_id: special.bos_ids.first().copied(),
        eos_token_ids: special.eos_ids.clone(),
    };
    config.check_against_tensors(shapes, ConfigKeys::Gguf("gpt2"), &meta.source)?;
    Ok(config)
}

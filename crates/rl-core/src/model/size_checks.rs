//! Checks a config's sizes before anything they size is allocated: against the tensors a
//! file holds (the weights present bound what is plausible) and against fixed limits for
//! what no tensor bounds (the positions of a RoPE model). A corrupt or hostile config.json
//! or GGUF header must fail here, naming the file and the field, instead of aborting the
//! process by asking for terabytes.

use std::collections::{BTreeMap, BTreeSet};

use super::config::{Architecture, ModelConfig, RopeScaling};
use crate::error::{CoreError, ErrorCode, Result};

/// The most positions a model may declare. Llama-family decoders precompute a RoPE table
/// row per position; the longest-context supported models declare about a million
/// (Qwen2.5-1M: 1,010,000).
pub const MAX_POSITIONS: usize = 1 << 20;

/// RoPE tables up to this size are accepted whatever the weights. Past it they may not
/// outweigh the weights: a small model declaring a million positions is a corrupt config.
const ROPE_TABLES_ALWAYS_ALLOWED_BYTES: usize = 64 << 20;

/// The shape of each tensor a weights file holds, by HuggingFace name, read from the
/// file's header before any tensor data.
pub type TensorShapes = BTreeMap<String, Vec<usize>>;

/// How the file names the config's fields, so that an error names the one the user sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigKeys {
    /// config.json of `model_type` gpt2.
    Gpt2Json,
    /// config.json of the Llama family (llama, qwen2, mistral).
    LlamaJson,
    /// GGUF metadata `<arch>.*`.
    Gguf(&'static str),
}

#[derive(Clone, Copy)]
enum Field {
    Layers,
    Hidden,
    Vocab,
    Intermediate,
    Heads,
    KvHeads,
    HeadDim,
    Positions,
    NormEps,
    RopeTheta,
    RopeFactor,
}

impl ConfigKeys {
    pub fn json(arch: Architecture) -> Self {
        match arch {
            Architecture::Gpt2 => ConfigKeys::Gpt2Json,
            Architecture::Llama => ConfigKeys::LlamaJson,
        }
    }

    fn key(self, field: Field) -> String {
        use Field::*;
        let name = match (self, field) {
            (ConfigKeys::Gpt2Json, Layers) => "n_layer",
            (ConfigKeys::Gpt2Json, Hidden) => "n_embd",
            (ConfigKeys::Gpt2Json, Intermediate) => "n_inner",
            (ConfigKeys::Gpt2Json, Heads | KvHeads) => "n_head",
            (ConfigKeys::Gpt2Json, HeadDim) => "n_embd / n_head",
            (ConfigKeys::Gpt2Json, Positions) => "n_positions",
            (ConfigKeys::Gpt2Json, NormEps) => "layer_norm_epsilon",
            (ConfigKeys::LlamaJson, Layers) => "num_hidden_layers",
            (ConfigKeys::LlamaJson, Hidden) => "hidden_size",
            (ConfigKeys::LlamaJson, Intermediate) => "intermediate_size",
            (ConfigKeys::LlamaJson, Heads) => "num_attention_heads",
            (ConfigKeys::LlamaJson, KvHeads) => "num_key_value_heads",
            (ConfigKeys::LlamaJson, HeadDim) => "head_dim",
            (ConfigKeys::LlamaJson, Positions) => "max_position_embeddings",
            (ConfigKeys::LlamaJson, NormEps) => "rms_norm_eps",
            (ConfigKeys::Gpt2Json | ConfigKeys::LlamaJson, Vocab) => "vocab_size",
            (ConfigKeys::Gpt2Json | ConfigKeys::LlamaJson, RopeTheta) => "rope_theta",
            (ConfigKeys::Gpt2Json | ConfigKeys::LlamaJson, RopeFactor) => "rope_scaling.factor",
            (ConfigKeys::Gguf(arch), field) => {
                let key = match field {
                    Layers => "block_count",
                    Hidden => "embedding_length",
                    // GGUF takes the vocabulary from the token embedding's rows.
                    Vocab => return "the rows of token_embd.weight".into(),
                    Intermediate => "feed_forward_length",
                    Heads => "attention.head_count",
                    KvHeads => "attention.head_count_kv",
                    HeadDim => "attention.key_length",
                    Positions => "context_length",
                    NormEps => "attention.layer_norm_rms_epsilon",
                    RopeTheta => "rope.freq_base",
                    RopeFactor => "rope.scaling.factor",
                };
                return format!("{arch}.{key}");
            }
        };
        name.to_string()
    }
}

fn invalid(source: &str, message: String) -> CoreError {
    CoreError::new(ErrorCode::InvalidModel, format!("{source}: {message}"))
}

impl ModelConfig {
    /// Limits that hold whatever the weights: at most `MAX_POSITIONS` positions, a finite
    /// non-negative norm epsilon, positive finite RoPE parameters.
    pub fn check_limits(&self, keys: ConfigKeys, source: &str) -> Result<()> {
        let n = self.max_position_embeddings;
        if n > MAX_POSITIONS {
            return Err(invalid(
                source,
                format!("{} is {n}; at most {MAX_POSITIONS} positions are supported (the longest-context supported models declare about a million)", keys.key(Field::Positions)),
            ));
        }
        if !(self.norm_eps.is_finite() && self.norm_eps >= 0.0) {
            return Err(invalid(source, format!("{} is {}; it must be a finite number >= 0", keys.key(Field::NormEps), self.norm_eps)));
        }
        if self.architecture == Architecture::Llama && !(self.rope_theta.is_finite() && self.rope_theta > 0.0) {
            return Err(invalid(source, format!("{} is {}; it must be a finite number > 0", keys.key(Field::RopeTheta), self.rope_theta)));
        }
        let factor = match &self.rope_scaling {
            Some(RopeScaling::Linear { factor }) | Some(RopeScaling::Llama3 { factor, .. }) => *factor,
            None => 1.0,
        };
        if !(factor.is_finite() && factor > 0.0) {
            return Err(invalid(source, format!("{} is {factor}; it must be a finite number > 0", keys.key(Field::RopeFactor))));
        }
        Ok(())
    }

    /// `check_limits`, then the sizes the config declares against the tensors the file
    /// holds: the layer count must be the layers present, and the vocabulary, hidden,
    /// attention, MLP and position sizes the shapes of their tensors. Only then is it safe
    /// to build anything sized by the config (the expected-weights list, RoPE tables).
    pub fn check_against_tensors(&self, tensors: &TensorShapes, keys: ConfigKeys, source: &str) -> Result<()> {
        self.check_limits(keys, source)?;
        self.check_layers(tensors, keys, source)?;
        let matrix = Matrices { tensors, keys, source };
        match self.architecture {
            Architecture::Gpt2 => {
                let embedding = "transformer.wte.weight";
                matrix.check(embedding, 0, &[(Field::Vocab, self.vocab_size)])?;
                matrix.check(embedding, 1, &[(Field::Hidden, self.hidden_size)])?;
                matrix.check("transformer.wpe.weight", 0, &[(Field::Positions, self.max_position_embeddings)])?;
                matrix.check("transformer.h.0.mlp.c_fc.weight", 1, &[(Field::Intermediate, self.intermediate_size)])?;
            }
            Architecture::Llama => {
                let embedding = "model.embed_tokens.weight";
                matrix.check(embedding, 0, &[(Field::Vocab, self.vocab_size)])?;
                matrix.check(embedding, 1, &[(Field::Hidden, self.hidden_size)])?;
                let head_dim = (Field::HeadDim, self.head_dim);
                matrix.check("model.layers.0.self_attn.q_proj.weight", 0, &[(Field::Heads, self.num_heads), head_dim])?;
                matrix.check("model.layers.0.self_attn.k_proj.weight", 0, &[(Field::KvHeads, self.num_kv_heads), head_dim])?;
                matrix.check("model.layers.0.mlp.gate_proj.weight", 0, &[(Field::Intermediate, self.intermediate_size)])?;
                self.check_rope_tables(tensors, keys, source)?;
            }
        }
        Ok(())
    }

    /// The layers present must be exactly 0..num_layers: a count of a billion, or a lone
    /// tensor named layer 999999999, is refused before a billion layers are listed.
    fn check_layers(&self, tensors: &TensorShapes, keys: ConfigKeys, source: &str) -> Result<()> {
        let prefix = match self.architecture {
            Architecture::Gpt2 => "transformer.h.",
            Architecture::Llama => "model.layers.",
        };
        let present: BTreeSet<usize> = tensors.keys().filter_map(|name| name.strip_prefix(prefix)?.split_once('.')?.0.parse().ok()).collect();
        let n = self.num_layers;
        if present.len() == n && n.checked_sub(1).is_some_and(|last| present.last() == Some(&last)) {
            return Ok(());
        }
        let held = match (present.first(), present.last()) {
            (Some(first), Some(last)) => format!("{} layers numbered {first} to {last}", present.len()),
            _ => "no layers".into(),
        };
        Err(invalid(source, format!("{} is {n} but the weights hold {held}; the config does not describe these weights", keys.key(Field::Layers))))
    }

    /// Two tables (cos, sin) of positions x head_dim/2 f32 values.
    fn check_rope_tables(&self, tensors: &TensorShapes, keys: ConfigKeys, source: &str) -> Result<()> {
        let rope_bytes = self.max_position_embeddings.saturating_mul(self.head_dim).saturating_mul(4);
        let weight_bytes = tensors.values().fold(0usize, |sum, shape| sum.saturating_add(shape.iter().fold(4usize, |p, &d| p.saturating_mul(d))));
        if rope_bytes <= ROPE_TABLES_ALWAYS_ALLOWED_BYTES.max(weight_bytes) {
            return Ok(());
        }
        let mib = |b: usize| b >> 20;
        Err(invalid(
            source,
            format!(
                "{} is {}: its RoPE tables would take {} MiB, more than the {} MiB of the weights themselves; the config does not describe these weights",
                keys.key(Field::Positions),
                self.max_position_embeddings,
                mib(rope_bytes),
                mib(weight_bytes)
            ),
        ))
    }
}

/// Checks one dimension of a matrix against the product of the sizes that declare it.
struct Matrices<'a> {
    tensors: &'a TensorShapes,
    keys: ConfigKeys,
    source: &'a str,
}

impl Matrices<'_> {
    fn check(&self, name: &str, axis: usize, declared_by: &[(Field, usize)]) -> Result<()> {
        let Some(shape) = self.tensors.get(name) else {
            return Err(invalid(self.source, format!("the weights have no tensor '{name}'")));
        };
        if shape.len() != 2 {
            return Err(invalid(self.source, format!("tensor '{name}' has shape {shape:?}; it must be a matrix")));
        }
        let declared = declared_by.iter().try_fold(1usize, |p, &(_, size)| p.checked_mul(size));
        if declared == Some(shape[axis]) {
            return Ok(());
        }
        let fields: Vec<String> = declared_by.iter().map(|&(field, size)| format!("{} ({size})", self.keys.key(field))).collect();
        let side = if axis == 0 { "rows" } else { "columns" };
        Err(invalid(
            self.source,
            format!("{} does not match tensor '{name}', which has {} {side} (shape {shape:?}); the config does not describe these weights", fields.join(" x "), shape[axis]),
        ))
    }
}

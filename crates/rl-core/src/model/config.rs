//! The architecture-independent description of a decoder, read from a HuggingFace
//! `config.json` (GPT-2 and Llama families) or from GGUF metadata.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::size_checks::ConfigKeys;
use crate::error::{CoreError, ErrorCode, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Architecture {
    /// Learned positions, LayerNorm, tanh-GELU MLP, tied lm_head, Conv1D weight layout.
    Gpt2,
    /// RMSNorm, RoPE, SwiGLU, grouped-query attention (Llama, SmolLM2, TinyLlama, Qwen2).
    Llama,
}

/// RoPE frequency scaling ("rope_scaling" in config.json).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum RopeScaling {
    /// Positions divided by `factor`.
    Linear { factor: f64 },
    /// Llama 3 style: low frequencies scaled by `factor`, high kept, smooth in between.
    Llama3 { factor: f64, low_freq_factor: f64, high_freq_factor: f64, original_max_position_embeddings: usize },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    pub architecture: Architecture,
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_layers: usize,
    pub num_heads: usize,
    /// Key/value heads (grouped-query attention); equals `num_heads` without GQA.
    pub num_kv_heads: usize,
    pub head_dim: usize,
    /// MLP inner size.
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    /// LayerNorm / RMSNorm epsilon.
    pub norm_eps: f64,
    pub rope_theta: f64,
    pub rope_scaling: Option<RopeScaling>,
    pub tie_word_embeddings: bool,
    /// q/k/v projections carry a bias (Qwen2).
    pub attention_bias: bool,
    pub bos_token_id: Option<u32>,
    pub eos_token_ids: Vec<u32>,
}

impl ModelConfig {
    /// Parses a HuggingFace `config.json` (as written by transformers 4.x or 5.x).
    pub fn from_hf_json(text: &str, source: &str) -> Result<Self> {
        let v: Value = serde_json::from_str(text).map_err(|e| invalid(source, format!("is not valid JSON ({e})")))?;
        let model_type = v.get("model_type").and_then(Value::as_str).unwrap_or("");
        let config = match model_type {
            "gpt2" => Self::gpt2(&v, source)?,
            "llama" | "qwen2" | "mistral" => Self::llama(&v, source, model_type == "qwen2")?,
            other => {
                return Err(invalid(
                    source,
                    format!("has model_type '{other}'; supported architectures are gpt2, llama (SmolLM2, TinyLlama), qwen2 and mistral"),
                ))
            }
        };
        config.check_limits(ConfigKeys::json(config.architecture), source)?;
        Ok(config)
    }

    fn gpt2(v: &Value, source: &str) -> Result<Self> {
        let hidden = usize_field(v, "n_embd", source)?;
        let heads = usize_field(v, "n_head", source)?;
        check_divides(hidden, heads, source)?;
        Ok(ModelConfig {
            architecture: Architecture::Gpt2,
            vocab_size: usize_field(v, "vocab_size", source)?,
            hidden_size: hidden,
            num_layers: usize_field(v, "n_layer", source)?,
            num_heads: heads,
            num_kv_heads: heads,
            head_dim: hidden / heads,
            intermediate_size: opt_usize(v, "n_inner", source)?.unwrap_or(4 * hidden),
            max_position_embeddings: usize_field(v, "n_positions", source)?,
            norm_eps: v.get("layer_norm_epsilon").and_then(Value::as_f64).unwrap_or(1e-5),
            rope_theta: 0.0,
            rope_scaling: None,
            tie_word_embeddings: true,
            attention_bias: true,
            bos_token_id: opt_u32(v, "bos_token_id"),
            eos_token_ids: token_ids(v.get("eos_token_id")),
        })
    }

    fn llama(v: &Value, source: &str, qwen2: bool) -> Result<Self> {
        let hidden = usize_field(v, "hidden_size", source)?;
        let heads = usize_field(v, "num_attention_heads", source)?;
        check_divides(hidden, heads, source)?;
        let kv_heads = opt_usize(v, "num_key_value_heads", source)?.unwrap_or(heads);
        if kv_heads == 0 || heads % kv_heads != 0 {
            return Err(invalid(source, format!("num_key_value_heads ({kv_heads}) must divide num_attention_heads ({heads})")));
        }
        Ok(ModelConfig {
            architecture: Architecture::Llama,
            vocab_size: usize_field(v, "vocab_size", source)?,
            hidden_size: hidden,
            num_layers: usize_field(v, "num_hidden_layers", source)?,
            num_heads: heads,
            num_kv_heads: kv_heads,
            head_dim: opt_usize(v, "head_dim", source)?.unwrap_or(hidden / heads),
            intermediate_size: usize_field(v, "intermediate_size", source)?,
            max_position_embeddings: opt_usize(v, "max_position_embeddings", source)?.unwrap_or(2048),
            norm_eps: v.get("rms_norm_eps").and_then(Value::as_f64).unwrap_or(1e-6),
            // transformers 5 moved both into "rope_parameters".
            rope_theta: v.get("rope_theta").or_else(|| v.pointer("/rope_parameters/rope_theta")).and_then(Value::as_f64).unwrap_or(10000.0),
            rope_scaling: rope_scaling(v.get("rope_scaling").filter(|x| !x.is_null()).or_else(|| v.get("rope_parameters")), source)?,
            tie_word_embeddings: v.get("tie_word_embeddings").and_then(Value::as_bool).unwrap_or(false),
            attention_bias: v.get("attention_bias").and_then(Value::as_bool).unwrap_or(qwen2),
            bos_token_id: opt_u32(v, "bos_token_id"),
            eos_token_ids: token_ids(v.get("eos_token_id")),
        })
    }

    /// Number of parameters of the model (embeddings counted once when tied).
    pub fn num_parameters(&self) -> usize {
        let (h, l, v, i) = (self.hidden_size, self.num_layers, self.vocab_size, self.intermediate_size);
        let kv = self.num_kv_heads * self.head_dim;
        let q = self.num_heads * self.head_dim;
        let lm_head = if self.tie_word_embeddings { 0 } else { v * h };
        match self.architecture {
            Architecture::Gpt2 => {
                let block = 2 * 2 * h + h * 3 * h + 3 * h + h * h + h + h * i + i + i * h + h;
                v * h + self.max_position_embeddings * h + l * block + 2 * h + lm_head
            }
            Architecture::Llama => {
                let bias = if self.attention_bias { q + 2 * kv } else { 0 };
                let block = 2 * h + h * q + 2 * h * kv + bias + q * h + 3 * h * i;
                v * h + l * block + h + lm_head
            }
        }
    }
}

fn invalid(source: &str, what: String) -> CoreError {
    CoreError::new(ErrorCode::InvalidModel, format!("{source} {what}"))
}

/// An optional size: absent (or null) gives `None`; present, it must be a positive integer
/// (a float such as 1e12 is an error, not silently the default).
fn opt_usize(v: &Value, key: &str, source: &str) -> Result<Option<usize>> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(_) => usize_field(v, key, source).map(Some),
    }
}

fn opt_u32(v: &Value, key: &str) -> Option<u32> {
    v.get(key).and_then(Value::as_u64).map(|x| x as u32)
}

fn usize_field(v: &Value, key: &str, source: &str) -> Result<usize> {
    match v.get(key) {
        Some(x) => x
            .as_u64()
            .filter(|&n| n > 0)
            .map(|n| n as usize)
            .ok_or_else(|| invalid(source, format!("field '{key}' must be a positive integer, got {x}"))),
        None => Err(invalid(source, format!("is missing the field '{key}'"))),
    }
}

fn check_divides(hidden: usize, heads: usize, source: &str) -> Result<()> {
    if hidden % heads == 0 {
        Ok(())
    } else {
        Err(invalid(source, format!("has a hidden size ({hidden}) that the number of heads ({heads}) does not divide")))
    }
}

/// `eos_token_id` is a number or a list of numbers.
pub(crate) fn token_ids(v: Option<&Value>) -> Vec<u32> {
    match v {
        Some(Value::Number(n)) => n.as_u64().map(|x| vec![x as u32]).unwrap_or_default(),
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_u64).map(|x| x as u32).collect(),
        _ => Vec::new(),
    }
}

fn rope_scaling(v: Option<&Value>, source: &str) -> Result<Option<RopeScaling>> {
    let Some(obj) = v.filter(|x| !x.is_null()) else { return Ok(None) };
    let kind = obj.get("rope_type").or_else(|| obj.get("type")).and_then(Value::as_str).unwrap_or("");
    if kind == "default" {
        return Ok(None);
    }
    let f = |k: &str| obj.get(k).and_then(Value::as_f64);
    let factor = f("factor").ok_or_else(|| invalid(source, "rope_scaling has no 'factor'".into()))?;
    match kind {
        "linear" => Ok(Some(RopeScaling::Linear { factor })),
        "llama3" => Ok(Some(RopeScaling::Llama3 {
            factor,
            low_freq_factor: f("low_freq_factor").unwrap_or(1.0),
            high_freq_factor: f("high_freq_factor").unwrap_or(4.0),
            original_max_position_embeddings: obj.get("original_max_position_embeddings").and_then(Value::as_u64).unwrap_or(8192) as usize,
        })),
        other => Err(invalid(source, format!("rope_scaling type '{other}' is not supported; supported: linear, llama3"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_smollm2_style_llama_config() {
        let json = r#"{"model_type":"llama","hidden_size":576,"num_attention_heads":9,"num_key_value_heads":3,
            "num_hidden_layers":30,"intermediate_size":1536,"vocab_size":49152,"rms_norm_eps":1e-5,
            "rope_theta":100000,"tie_word_embeddings":true,"eos_token_id":2,"max_position_embeddings":8192}"#;
        let c = ModelConfig::from_hf_json(json, "config.json").unwrap();
        assert_eq!((c.head_dim, c.num_kv_heads, c.eos_token_ids.clone()), (64, 3, vec![2]));
        // SmolLM2-135M has about 134.5M parameters.
        assert!((c.num_parameters() as f64 - 134.5e6).abs() < 0.5e6, "{}", c.num_parameters());
    }

    #[test]
    fn reads_rope_theta_from_transformers_5_rope_parameters() {
        let json = r#"{"model_type":"llama","hidden_size":64,"num_attention_heads":4,"num_hidden_layers":2,"intermediate_size":128,
            "vocab_size":100,"rope_parameters":{"rope_theta":50000.0,"rope_type":"default"}}"#;
        let c = ModelConfig::from_hf_json(json, "config.json").unwrap();
        assert_eq!((c.rope_theta, c.rope_scaling), (50000.0, None));
        let scaled = json.replace(r#""rope_type":"default""#, r#""rope_type":"linear","factor":2.0"#);
        assert_eq!(ModelConfig::from_hf_json(&scaled, "config.json").unwrap().rope_scaling, Some(RopeScaling::Linear { factor: 2.0 }));
    }

    #[test]
    fn unknown_architecture_is_a_clear_error() {
        let err = ModelConfig::from_hf_json(r#"{"model_type":"bert"}"#, "/m/config.json").unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidModel);
        assert!(err.message.contains("/m/config.json") && err.message.contains("bert"));
    }
}

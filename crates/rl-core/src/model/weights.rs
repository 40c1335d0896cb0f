//! The tensors of a model, by their HuggingFace names, and the names and shapes each
//! architecture expects. Loaders (safetensors, GGUF) produce a `Weights`; decoders are
//! built from one; savers write one back.

use std::collections::BTreeMap;

use candle_core::{Device, Tensor};

use super::config::{Architecture, ModelConfig};
use crate::error::{CoreError, ErrorCode, Result};

/// Tensors by HuggingFace name (`transformer.h.0.attn.c_attn.weight`,
/// `model.layers.0.self_attn.q_proj.weight`, ...), in f32.
pub type Weights = BTreeMap<String, Tensor>;

/// What a weight is, which decides its initialization and whether weight decay applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightKind {
    /// Matrices of linear / Conv1D layers.
    Matrix,
    /// Token or position embeddings.
    Embedding,
    /// LayerNorm / RMSNorm scales.
    NormScale,
    /// Biases, including LayerNorm shifts.
    Bias,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightSpec {
    pub name: String,
    pub shape: Vec<usize>,
    pub kind: WeightKind,
}

/// Every tensor the architecture needs, in a stable order. GPT-2 matrices use the
/// Conv1D layout [in, out]; Llama matrices the Linear layout [out, in]. A tied lm_head is
/// not listed (it is the token embedding).
pub fn expected_weights(c: &ModelConfig) -> Vec<WeightSpec> {
    let mut specs = Vec::new();
    let mut add = |name: String, shape: Vec<usize>, kind: WeightKind| specs.push(WeightSpec { name, shape, kind });
    let (h, v, i) = (c.hidden_size, c.vocab_size, c.intermediate_size);
    match c.architecture {
        Architecture::Gpt2 => {
            add("transformer.wte.weight".into(), vec![v, h], WeightKind::Embedding);
            add("transformer.wpe.weight".into(), vec![c.max_position_embeddings, h], WeightKind::Embedding);
            for l in 0..c.num_layers {
                let p = format!("transformer.h.{l}");
                add(format!("{p}.ln_1.weight"), vec![h], WeightKind::NormScale);
                add(format!("{p}.ln_1.bias"), vec![h], WeightKind::Bias);
                add(format!("{p}.attn.c_attn.weight"), vec![h, 3 * h], WeightKind::Matrix);
                add(format!("{p}.attn.c_attn.bias"), vec![3 * h], WeightKind::Bias);
                add(format!("{p}.attn.c_proj.weight"), vec![h, h], WeightKind::Matrix);
                add(format!("{p}.attn.c_proj.bias"), vec![h], WeightKind::Bias);
                add(format!("{p}.ln_2.weight"), vec![h], WeightKind::NormScale);
                add(format!("{p}.ln_2.bias"), vec![h], WeightKind::Bias);
                add(format!("{p}.mlp.c_fc.weight"), vec![h, i], WeightKind::Matrix);
                add(format!("{p}.mlp.c_fc.bias"), vec![i], WeightKind::Bias);
                add(format!("{p}.mlp.c_proj.weight"), vec![i, h], WeightKind::Matrix);
                add(format!("{p}.mlp.c_proj.bias"), vec![h], WeightKind::Bias);
            }
            add("transformer.ln_f.weight".into(), vec![h], WeightKind::NormScale);
            add("transformer.ln_f.bias".into(), vec![h], WeightKind::Bias);
        }
        Architecture::Llama => {
            let (q, kv) = (c.num_heads * c.head_dim, c.num_kv_heads * c.head_dim);
            add("model.embed_tokens.weight".into(), vec![v, h], WeightKind::Embedding);
            for l in 0..c.num_layers {
                let p = format!("model.layers.{l}");
                add(format!("{p}.input_layernorm.weight"), vec![h], WeightKind::NormScale);
                add(format!("{p}.self_attn.q_proj.weight"), vec![q, h], WeightKind::Matrix);
                add(format!("{p}.self_attn.k_proj.weight"), vec![kv, h], WeightKind::Matrix);
                add(format!("{p}.self_attn.v_proj.weight"), vec![kv, h], WeightKind::Matrix);
                if c.attention_bias {
                    add(format!("{p}.self_attn.q_proj.bias"), vec![q], WeightKind::Bias);
                    add(format!("{p}.self_attn.k_proj.bias"), vec![kv], WeightKind::Bias);
                    add(format!("{p}.self_attn.v_proj.bias"), vec![kv], WeightKind::Bias);
                }
                add(format!("{p}.self_attn.o_proj.weight"), vec![h, q], WeightKind::Matrix);
                add(format!("{p}.post_attention_layernorm.weight"), vec![h], WeightKind::NormScale);
                add(format!("{p}.mlp.gate_proj.weight"), vec![i, h], WeightKind::Matrix);
                add(format!("{p}.mlp.up_proj.weight"), vec![i, h], WeightKind::Matrix);
                add(format!("{p}.mlp.down_proj.weight"), vec![h, i], WeightKind::Matrix);
            }
            add("model.norm.weight".into(), vec![h], WeightKind::NormScale);
            if !c.tie_word_embeddings {
                add("lm_head.weight".into(), vec![v, h], WeightKind::Matrix);
            }
        }
    }
    specs
}

/// Checks that `weights` holds every expected tensor with the expected shape.
pub fn validate_weights(c: &ModelConfig, weights: &Weights, source: &str) -> Result<()> {
    for spec in expected_weights(c) {
        let Some(t) = weights.get(&spec.name) else {
            return Err(CoreError::new(ErrorCode::InvalidModel, format!("{source} has no tensor '{}' (expected shape {:?})", spec.name, spec.shape)));
        };
        if t.dims() != spec.shape.as_slice() {
            return Err(CoreError::new(
                ErrorCode::InvalidModel,
                format!("{source}: tensor '{}' has shape {:?} but the config implies {:?}", spec.name, t.dims(), spec.shape),
            ));
        }
    }
    Ok(())
}

/// Seeded random initialization: N(0, 0.02) matrices and embeddings, unit norm scales,
/// zero biases. The same seed gives the same weights on every machine.
pub fn random_weights(c: &ModelConfig, seed: u64) -> Result<Weights> {
    let mut rng = SplitMix64(seed);
    let mut weights = Weights::new();
    for spec in expected_weights(c) {
        let n: usize = spec.shape.iter().product();
        let data: Vec<f32> = match spec.kind {
            WeightKind::Matrix | WeightKind::Embedding => (0..n).map(|_| 0.02 * rng.normal()).collect(),
            WeightKind::NormScale => vec![1.0; n],
            WeightKind::Bias => vec![0.0; n],
        };
        let t = Tensor::from_vec(data, spec.shape.as_slice(), &Device::Cpu)
            .map_err(|e| CoreError::new(ErrorCode::InvalidModel, format!("cannot create tensor {}: {e}", spec.name)))?;
        weights.insert(spec.name, t);
    }
    Ok(weights)
}

/// A tiny deterministic generator (SplitMix64) with Box-Muller normals.
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn normal(&mut self) -> f32 {
        let u1 = self.uniform().max(f64::MIN_POSITIVE);
        let u2 = self.uniform();
        ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_weights_match_the_expected_shapes_and_are_seeded() {
        let json = r#"{"model_type":"gpt2","n_embd":32,"n_head":4,"n_layer":2,"n_positions":64,"vocab_size":100}"#;
        let c = ModelConfig::from_hf_json(json, "config.json").unwrap();
        let a = random_weights(&c, 7).unwrap();
        validate_weights(&c, &a, "test").unwrap();
        let n: usize = a.values().map(|t| t.elem_count()).sum();
        assert_eq!(n, c.num_parameters());
        let b = random_weights(&c, 7).unwrap();
        let same = a["transformer.wte.weight"].eq(&b["transformer.wte.weight"]).unwrap().min_all().unwrap().to_scalar::<u8>().unwrap();
        assert_eq!(same, 1);
    }
}

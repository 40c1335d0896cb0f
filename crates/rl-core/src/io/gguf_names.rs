//! Tensor names in both directions: llama.cpp's (`token_embd.weight`, `blk.N.attn_q.weight`)
//! and HuggingFace's (`model.embed_tokens.weight`, `model.layers.N.self_attn.q_proj.weight`),
//! for each architecture family. The GGUF loader reads with these tables and the exporter
//! writes with them, so a name can never be mapped one way and not back.

/// The naming scheme of one architecture family.
pub struct TensorNames {
    /// Whole-model tensors: (llama.cpp name, HuggingFace name).
    pub model: &'static [(&'static str, &'static str)],
    /// HuggingFace prefix of layer N's tensors, before `.N.`.
    pub layer_prefix: &'static str,
    /// Per-layer modules: (llama.cpp `blk.N.<name>`, HuggingFace `<prefix>.N.<name>`).
    pub layer: &'static [(&'static str, &'static str)],
}

/// llama.cpp names of whole-model tensors of the Llama family, with their HuggingFace names.
pub const MODEL_TENSORS: [(&str, &str); 3] =
    [("token_embd.weight", "model.embed_tokens.weight"), ("output_norm.weight", "model.norm.weight"), ("output.weight", "lm_head.weight")];

/// llama.cpp names of the Llama family's per-layer modules, with their HuggingFace names.
pub const LAYER_MODULES: [(&str, &str); 9] = [
    ("attn_norm", "input_layernorm"),
    ("attn_q", "self_attn.q_proj"),
    ("attn_k", "self_attn.k_proj"),
    ("attn_v", "self_attn.v_proj"),
    ("attn_output", "self_attn.o_proj"),
    ("ffn_norm", "post_attention_layernorm"),
    ("ffn_gate", "mlp.gate_proj"),
    ("ffn_up", "mlp.up_proj"),
    ("ffn_down", "mlp.down_proj"),
];

/// Llama, Qwen2, Mistral.
pub const LLAMA: TensorNames = TensorNames { model: &MODEL_TENSORS, layer_prefix: "model.layers", layer: &LAYER_MODULES };

/// GPT-2 as llama.cpp's converter names it (gguf-py's tensor map). Its lm_head is the token
/// embedding, so there is no `output.weight`.
pub const GPT2: TensorNames = TensorNames {
    model: &[
        ("token_embd.weight", "transformer.wte.weight"),
        ("position_embd.weight", "transformer.wpe.weight"),
        ("output_norm.weight", "transformer.ln_f.weight"),
        ("output_norm.bias", "transformer.ln_f.bias"),
    ],
    layer_prefix: "transformer.h",
    layer: &[
        ("attn_norm", "ln_1"),
        ("attn_qkv", "attn.c_attn"),
        ("attn_output", "attn.c_proj"),
        ("ffn_norm", "ln_2"),
        ("ffn_up", "mlp.c_fc"),
        ("ffn_down", "mlp.c_proj"),
    ],
};

impl TensorNames {
    /// The HuggingFace name of a llama.cpp tensor name, if this family has it.
    pub fn hf_name(&self, gguf: &str) -> Option<String> {
        if let Some((_, hf)) = self.model.iter().find(|(g, _)| *g == gguf) {
            return Some(hf.to_string());
        }
        let (layer, rest) = gguf.strip_prefix("blk.")?.split_once('.')?;
        let layer: usize = layer.parse().ok()?;
        let (module, suffix) = rest.split_once('.')?;
        let (_, hf) = self.layer.iter().find(|(g, _)| *g == module)?;
        matches!(suffix, "weight" | "bias").then(|| format!("{}.{layer}.{hf}.{suffix}", self.layer_prefix))
    }

    /// The llama.cpp name of a HuggingFace tensor name, if this family has it.
    pub fn gguf_name(&self, hf: &str) -> Option<String> {
        if let Some((gguf, _)) = self.model.iter().find(|(_, h)| *h == hf) {
            return Some(gguf.to_string());
        }
        let (layer, rest) = hf.strip_prefix(self.layer_prefix)?.strip_prefix('.')?.split_once('.')?;
        let layer: usize = layer.parse().ok()?;
        let (module, suffix) = rest.rsplit_once('.')?;
        let (gguf, _) = self.layer.iter().find(|(_, h)| *h == module)?;
        matches!(suffix, "weight" | "bias").then(|| format!("blk.{layer}.{gguf}.{suffix}"))
    }
}

#[cfg(test)]
mod tests {
    use super::{GPT2, LLAMA};
    use crate::model::{expected_weights, Architecture};
    use crate::tiny::make_tiny_model;

    #[test]
    fn every_weight_of_both_families_maps_to_llama_cpp_and_back() {
        for (arch, names) in [(Architecture::Gpt2, &GPT2), (Architecture::Llama, &LLAMA)] {
            let mut config = make_tiny_model(arch, 0).unwrap().config;
            config.tie_word_embeddings = false;
            config.attention_bias = true;
            let mut seen = std::collections::HashSet::new();
            for spec in expected_weights(&config) {
                let gguf = names.gguf_name(&spec.name).unwrap_or_else(|| panic!("{arch:?}: no llama.cpp name for {}", spec.name));
                assert!(seen.insert(gguf.clone()), "{gguf} named twice");
                assert_eq!(names.hf_name(&gguf).as_deref(), Some(spec.name.as_str()));
            }
        }
        assert_eq!(GPT2.gguf_name("transformer.h.11.attn.c_attn.weight").as_deref(), Some("blk.11.attn_qkv.weight"));
        assert_eq!(LLAMA.gguf_name("model.layers.3.self_attn.k_proj.bias").as_deref(), Some("blk.3.attn_k.bias"));
        assert_eq!(LLAMA.gguf_name("model.layers.x.mlp.up_proj.weight"), None);
    }
}

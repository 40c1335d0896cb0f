//! Exports a model as a GGUF file that llama.cpp and Ollama run with no other file, laid
//! out as llama.cpp's `convert_hf_to_gguf.py` lays it out: its architecture names (`llama`,
//! `qwen2`, `gpt2`) and metadata keys, its tensor names, Q and K rows permuted for
//! llama.cpp's rotary kernel (Llama), GPT-2's Conv1D matrices transposed, 1-D tensors and
//! GPT-2's position table in f32, and the tokenizer and chat template in the metadata.

use std::path::Path;

use candle_core::quantized::gguf_file::Value;
use candle_core::Tensor;

use super::errors::invalid;
use super::gguf_gpt2::is_conv1d;
use super::gguf_names::{GPT2, LLAMA};
use super::gguf_vocab::vocab_metadata;
use super::gguf_write::{write_gguf, GgmlType, TensorEntry};
use super::{GenerationDefaults, LoadedModel};
use crate::error::{CoreError, ErrorCode, Result};
use crate::model::llama::inverse_frequencies;
use crate::model::{expected_weights, validate_weights, Architecture, ModelConfig, RopeScaling};

/// The precision of the exported matrices (llama.cpp's `--outtype`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GgufType {
    F32,
    F16,
    Q8_0,
}

impl GgufType {
    pub fn parse(name: &str) -> Result<GgufType> {
        match name {
            "f32" => Ok(GgufType::F32),
            "f16" => Ok(GgufType::F16),
            "q8_0" => Ok(GgufType::Q8_0),
            other => Err(CoreError::new(ErrorCode::InvalidArgument, format!("unknown GGUF type '{other}'; use f32, f16 or q8_0"))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            GgufType::F32 => "f32",
            GgufType::F16 => "f16",
            GgufType::Q8_0 => "q8_0",
        }
    }

    /// llama.cpp's `general.file_type` (LLAMA_FTYPE_ALL_F32, MOSTLY_F16, MOSTLY_Q8_0).
    fn file_type(self) -> u32 {
        match self {
            GgufType::F32 => 0,
            GgufType::F16 => 1,
            GgufType::Q8_0 => 7,
        }
    }

    fn matrix_type(self) -> GgmlType {
        match self {
            GgufType::F32 => GgmlType::F32,
            GgufType::F16 => GgmlType::F16,
            GgufType::Q8_0 => GgmlType::Q8_0,
        }
    }
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct GgufExport {
    /// llama.cpp's architecture name: "llama", "qwen2" or "gpt2".
    pub architecture: &'static str,
    /// llama.cpp's name of the tokenizer's pre-tokenizer ("gpt-2", "smollm", ...).
    pub tokenizer_pre: &'static str,
    pub tensors: usize,
    /// Size of the file in bytes.
    pub bytes: u64,
    /// Matrices whose rows are not a multiple of q8_0's 32-value blocks, stored as f16
    /// instead (llama.cpp's converter does the same).
    pub f16_fallbacks: Vec<String>,
}

/// ggml's quantization format version, written by llama.cpp's converter as
/// `general.quantization_version`.
const QUANTIZATION_VERSION: u32 = 2;

/// Writes `model` to `path` as GGUF, its matrices in `tensor_type`; `name` becomes
/// `general.name` (what Ollama and llama.cpp show).
pub fn export_gguf(model: &LoadedModel, path: &Path, tensor_type: GgufType, name: Option<&str>) -> Result<GgufExport> {
    let source = "the model to export";
    validate_weights(&model.config, &model.weights, source)?;
    let arch = architecture(&model.config);
    let mut metadata = vec![
        ("general.architecture".to_string(), Value::String(arch.into())),
        ("general.type".to_string(), Value::String("model".into())),
    ];
    if let Some(name) = name {
        metadata.push(("general.name".to_string(), Value::String(name.into())));
    }
    metadata.push(("general.file_type".to_string(), Value::U32(tensor_type.file_type())));
    metadata.push(("general.quantization_version".to_string(), Value::U32(QUANTIZATION_VERSION)));
    metadata.extend(sampling_defaults(&model.generation));
    metadata.extend(hyperparameters(&model.config, arch)?.into_iter().map(|(k, v)| (format!("{arch}.{k}"), v)));
    let vocab = vocab_metadata(model, source)?;
    metadata.extend(vocab.entries);
    let (tensors, f16_fallbacks) = tensors(model, arch, tensor_type)?;
    let bytes = write_gguf(path, &metadata, &tensors)?;
    Ok(GgufExport { architecture: arch, tokenizer_pre: vocab.pre, tensors: tensors.len(), bytes, f16_fallbacks })
}

/// The authors' sampling defaults, under the `general.sampling.*` keys (and value types)
/// of llama.cpp's gguf-py.
fn sampling_defaults(g: &GenerationDefaults) -> Vec<(String, Value)> {
    let keys = [
        ("temp", g.temperature.map(|x| Value::F32(x as f32))),
        ("top_p", g.top_p.map(|x| Value::F32(x as f32))),
        ("top_k", g.top_k.map(|k| Value::I32(k.min(i32::MAX as usize) as i32))),
        ("penalty_repeat", g.repetition_penalty.map(|x| Value::F32(x as f32))),
    ];
    keys.into_iter().filter_map(|(k, v)| Some((format!("general.sampling.{k}"), v?))).collect()
}

/// A Llama-family model with q/k/v biases is Qwen2 to llama.cpp, whose "llama" has none.
fn architecture(c: &ModelConfig) -> &'static str {
    match c.architecture {
        Architecture::Gpt2 => "gpt2",
        Architecture::Llama if c.attention_bias => "qwen2",
        Architecture::Llama => "llama",
    }
}

/// The `<arch>.*` keys, with the value types llama.cpp's converter gives them.
fn hyperparameters(c: &ModelConfig, arch: &str) -> Result<Vec<(&'static str, Value)>> {
    let n = |x: usize| Value::U32(x as u32);
    let mut keys = vec![
        ("context_length", n(c.max_position_embeddings)),
        ("embedding_length", n(c.hidden_size)),
        ("block_count", n(c.num_layers)),
        ("feed_forward_length", n(c.intermediate_size)),
        ("attention.head_count", n(c.num_heads)),
        ("vocab_size", n(c.vocab_size)),
    ];
    if c.architecture == Architecture::Gpt2 {
        keys.push(("attention.layer_norm_epsilon", Value::F32(c.norm_eps as f32)));
        return Ok(keys);
    }
    keys.extend([
        ("attention.head_count_kv", n(c.num_kv_heads)),
        ("rope.freq_base", Value::F32(c.rope_theta as f32)),
        ("rope.dimension_count", n(c.head_dim)),
        ("attention.layer_norm_rms_epsilon", Value::F32(c.norm_eps as f32)),
    ]);
    if c.head_dim * c.num_heads != c.hidden_size {
        keys.extend([("attention.key_length", n(c.head_dim)), ("attention.value_length", n(c.head_dim))]);
    }
    match &c.rope_scaling {
        None => {}
        Some(RopeScaling::Linear { factor }) => keys.extend([("rope.scaling.type", Value::String("linear".into())), ("rope.scaling.factor", Value::F32(*factor as f32))]),
        // Written as the rope_freqs.weight tensor, which only llama.cpp's "llama" reads.
        Some(RopeScaling::Llama3 { .. }) if arch == "llama" => {}
        Some(RopeScaling::Llama3 { .. }) => {
            return Err(invalid(format!("the model to export has Llama 3 style RoPE scaling, which llama.cpp's {arch} architecture does not read")))
        }
    }
    Ok(keys)
}

/// Every tensor under its llama.cpp name, in llama.cpp's layout and storage type.
fn tensors(model: &LoadedModel, arch: &str, tensor_type: GgufType) -> Result<(Vec<TensorEntry>, Vec<String>)> {
    let c = &model.config;
    let names = if c.architecture == Architecture::Gpt2 { &GPT2 } else { &LLAMA };
    let mut entries = Vec::new();
    let mut f16_fallbacks = Vec::new();
    for spec in expected_weights(c) {
        let hf = spec.name.as_str();
        let name = names.gguf_name(hf).ok_or_else(|| invalid(format!("the model to export holds '{hf}', which has no llama.cpp name")))?;
        let t = &model.weights[hf];
        let tensor = match arch {
            "llama" if hf.ends_with("q_proj.weight") => permute(t, c.num_heads)?,
            "llama" if hf.ends_with("k_proj.weight") => permute(t, c.num_kv_heads)?,
            "gpt2" if is_conv1d(hf) => t.t()?.contiguous()?,
            _ => t.clone(),
        };
        // Norms, biases and positions stay f32, as llama.cpp's converter keeps them.
        let mut ggml_type = if tensor.rank() == 1 || name == "position_embd.weight" { GgmlType::F32 } else { tensor_type.matrix_type() };
        if tensor.dims().last().is_some_and(|&cols| cols % ggml_type.block_len() != 0) {
            f16_fallbacks.push(name.clone());
            ggml_type = GgmlType::F16;
        }
        entries.push(TensorEntry { name, tensor, ggml_type });
    }
    if let (Some(RopeScaling::Llama3 { .. }), "llama") = (&c.rope_scaling, arch) {
        entries.push(TensorEntry { name: "rope_freqs.weight".into(), tensor: rope_frequency_factors(c)?, ggml_type: GgmlType::F32 });
    }
    Ok((entries, f16_fallbacks))
}

/// llama.cpp's rotary kernel rotates interleaved pairs of each head's rows, HuggingFace's
/// rotates the first half against the second: rows [a0..an, b0..bn] become [a0, b0, a1, b1, ...].
fn permute(w: &Tensor, heads: usize) -> Result<Tensor> {
    let (rows, cols) = w.dims2()?;
    Ok(w.reshape((heads, 2, rows / heads / 2, cols))?.transpose(1, 2)?.contiguous()?.reshape((rows, cols))?)
}

/// Llama 3 RoPE scaling as llama.cpp takes it: per frequency, the factor that divides the
/// unscaled frequency.
fn rope_frequency_factors(c: &ModelConfig) -> Result<Tensor> {
    let scaled = inverse_frequencies(c);
    let unscaled = inverse_frequencies(&ModelConfig { rope_scaling: None, ..c.clone() });
    let factors: Vec<f32> = unscaled.iter().zip(&scaled).map(|(u, s)| (u / s) as f32).collect();
    let n = factors.len();
    Ok(Tensor::from_vec(factors, n, &candle_core::Device::Cpu)?)
}

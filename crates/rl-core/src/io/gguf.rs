//! Loads a GGUF file (llama.cpp's format): tensors of every type candle dequantizes, to
//! f32, under their HuggingFace names; the config from `<arch>.*` metadata; the tokenizer,
//! chat template and special tokens from `tokenizer.*` metadata.

use std::collections::HashSet;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use candle_core::quantized::gguf_file::Content;
use candle_core::{Device, Tensor};

use super::errors::{invalid, reason};
use super::finite::ensure_finite;
use super::gguf_gpt2::{gpt2_config, is_conv1d};
use super::gguf_header::read_header;
use super::gguf_metadata::Metadata;
use super::gguf_names::{TensorNames, GPT2, LLAMA};
use super::gguf_tokenizer::tokenizer_from_metadata;
use super::special_tokens::SpecialTokenSources;
use super::{GenerationDefaults, LoadedModel};
use crate::error::Result;
use crate::model::{expected_weights, validate_weights, Architecture, ConfigKeys, ModelConfig, RopeScaling, TensorShapes, Weights};
use crate::tokenizer::TextTokenizer;

pub fn load_gguf(path: &Path) -> Result<LoadedModel> {
    let source = path.display().to_string();
    let (content, mut reader) = read_header(path)?;
    let meta = Metadata { values: &content.metadata, source: source.clone() };
    let arch = meta.opt_str("general.architecture")?.unwrap_or("").to_string();
    let family = Family::parse(&arch, &source)?;
    let tokenizer = tokenizer_from_metadata(&meta)?;
    let sources = special_token_sources(&meta)?;
    let special_tokens = sources.resolve(&tokenizer, &source)?;
    let config = match family {
        Family::Gpt2 => gpt2_config(&meta, &tensor_shapes(&content, family, &source)?, &sources)?,
        _ => config_from_metadata(&meta, &arch, family, &content, &sources)?,
    };
    if tokenizer.vocab_size() > config.vocab_size {
        return Err(invalid(format!(
            "{source}: the tokenizer has {} tokens but token_embd has only {} rows",
            tokenizer.vocab_size(),
            config.vocab_size
        )));
    }
    let weights = read_weights(&content, &mut reader, &config, family, &source)?;
    validate_weights(&config, &weights, &source)?;
    let chat_template = meta.opt_str("tokenizer.chat_template")?.map(str::to_string);
    let generation = generation_defaults(&meta)?;
    Ok(LoadedModel { config, weights, tokenizer, chat_template, special_tokens, generation })
}

/// Sampling defaults the converter copied from generation_config.json.
fn generation_defaults(meta: &Metadata) -> Result<GenerationDefaults> {
    Ok(GenerationDefaults {
        temperature: meta.opt_f64("general.sampling.temp")?,
        top_p: meta.opt_f64("general.sampling.top_p")?,
        top_k: meta.opt_u64("general.sampling.top_k")?.map(|k| k as usize),
        repetition_penalty: meta.opt_f64("general.sampling.penalty_repeat")?,
        max_new_tokens: None,
    })
}

/// The tokenizer alone: only the metadata is read, not the tensors.
pub fn load_gguf_tokenizer(path: &Path) -> Result<TextTokenizer> {
    let (content, _) = read_header(path)?;
    tokenizer_from_metadata(&Metadata { values: &content.metadata, source: path.display().to_string() })
}

/// The GGUF architectures this loader maps to the project's decoders.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Family {
    /// llama.cpp's converter permutes the rows of Q and K; undone on load.
    Llama,
    /// q/k/v biases, rows in HuggingFace order.
    Qwen2,
    /// Matrices in Linear layout [out, in], where HuggingFace's Conv1D has [in, out].
    Gpt2,
}

impl Family {
    fn name(self) -> &'static str {
        match self {
            Family::Llama => "llama",
            Family::Qwen2 => "qwen2",
            Family::Gpt2 => "gpt2",
        }
    }

    fn parse(arch: &str, source: &str) -> Result<Family> {
        match arch {
            "llama" => Ok(Family::Llama),
            "qwen2" => Ok(Family::Qwen2),
            "gpt2" => Ok(Family::Gpt2),
            other => Err(invalid(format!(
                "{source}: general.architecture is '{other}'; GGUF loading supports llama (SmolLM2, TinyLlama, Llama 3), qwen2 and gpt2"
            ))),
        }
    }

    fn names(self) -> &'static TensorNames {
        if self == Family::Gpt2 {
            &GPT2
        } else {
            &LLAMA
        }
    }
}

fn special_token_sources(meta: &Metadata) -> Result<SpecialTokenSources> {
    let id = |k: &str| -> Result<Vec<u32>> { Ok(meta.opt_u64(k)?.map(|x| x as u32).into_iter().collect()) };
    let mut eos_ids = id("tokenizer.ggml.eos_token_id")?;
    eos_ids.extend(id("tokenizer.ggml.eot_token_id")?);
    Ok(SpecialTokenSources { bos_ids: id("tokenizer.ggml.bos_token_id")?, eos_ids, pad_ids: id("tokenizer.ggml.padding_token_id")?, ..Default::default() })
}

fn config_from_metadata(meta: &Metadata, arch: &str, family: Family, content: &Content, special: &SpecialTokenSources) -> Result<ModelConfig> {
    let key = |k: &str| format!("{arch}.{k}");
    let hidden = meta.usize(&key("embedding_length"))?;
    let heads = meta.usize(&key("attention.head_count"))?;
    let kv_heads = meta.opt_u64(&key("attention.head_count_kv"))?.map(|x| x as usize).unwrap_or(heads);
    if kv_heads == 0 || heads % kv_heads != 0 {
        return Err(invalid(format!("{}: {arch}.attention.head_count_kv ({kv_heads}) must divide the head count ({heads})", meta.source)));
    }
    let head_dim = meta.opt_u64(&key("attention.key_length"))?.map(|x| x as usize).unwrap_or(hidden / heads);
    if content.tensor_infos.contains_key("rope_freqs.weight") {
        return Err(invalid(format!("{} holds rope_freqs.weight (Llama 3.1 style frequency scaling), which the GGUF loader does not support; load the HuggingFace folder instead", meta.source)));
    }
    let shapes = tensor_shapes(content, family, &meta.source)?;
    let vocab_size = match shapes.get("model.embed_tokens.weight").map(Vec::as_slice) {
        Some([rows, _]) => *rows,
        Some(other) => return Err(invalid(format!("{}: tensor 'token_embd.weight' has shape {other:?}; it must be a matrix", meta.source))),
        None => return Err(invalid(format!("{} has no tensor 'token_embd.weight'", meta.source))),
    };
    let rope_scaling = match meta.opt_str(&key("rope.scaling.type"))? {
        None | Some("none") => None,
        Some("linear") => Some(RopeScaling::Linear { factor: meta.opt_f64(&key("rope.scaling.factor"))?.unwrap_or(1.0) }),
        Some(other) => return Err(invalid(format!("{}: {arch}.rope.scaling.type '{other}' is not supported; supported: linear", meta.source))),
    };
    let config = ModelConfig {
        architecture: Architecture::Llama,
        vocab_size,
        hidden_size: hidden,
        num_layers: meta.usize(&key("block_count"))?,
        num_heads: heads,
        num_kv_heads: kv_heads,
        head_dim,
        intermediate_size: meta.usize(&key("feed_forward_length"))?,
        max_position_embeddings: meta.opt_u64(&key("context_length"))?.map(|x| x as usize).unwrap_or(2048),
        norm_eps: meta.opt_f64(&key("attention.layer_norm_rms_epsilon"))?.unwrap_or(1e-6),
        rope_theta: meta.opt_f64(&key("rope.freq_base"))?.unwrap_or(10000.0),
        rope_scaling,
        tie_word_embeddings: !content.tensor_infos.contains_key("output.weight"),
        attention_bias: family == Family::Qwen2,
        bos_token_id: special.bos_ids.first().copied(),
        eos_token_ids: special.eos_ids.clone(),
    };
    config.check_against_tensors(&shapes, ConfigKeys::Gguf(family.name()), &meta.source)?;
    Ok(config)
}

/// The shape of every tensor by HuggingFace name, from the header alone.
fn tensor_shapes(content: &Content, family: Family, source: &str) -> Result<TensorShapes> {
    let mut shapes = TensorShapes::new();
    for (gguf_name, info) in &content.tensor_infos {
        let name = family.names().hf_name(gguf_name).ok_or_else(|| unexpected_tensor(gguf_name, family, source))?;
        let mut dims = info.shape.dims().to_vec();
        // GPT-2's matrices are stored [out, in]; the checks read HuggingFace's Conv1D [in, out].
        if family == Family::Gpt2 && is_conv1d(&name) {
            dims.reverse();
        }
        shapes.insert(name, dims);
    }
    Ok(shapes)
}

fn unexpected_tensor(gguf_name: &str, family: Family, source: &str) -> crate::error::CoreError {
    invalid(format!("{source} holds tensor '{gguf_name}', which a {arch} model with this metadata does not have", arch = family.name()))
}

fn read_weights(content: &Content, reader: &mut BufReader<File>, config: &ModelConfig, family: Family, source: &str) -> Result<Weights> {
    let expected: HashSet<String> = expected_weights(config).into_iter().map(|s| s.name).collect();
    let mut weights = Weights::new();
    for (gguf_name, info) in &content.tensor_infos {
        let name = family.names().hf_name(gguf_name).filter(|n| expected.contains(n)).ok_or_else(|| unexpected_tensor(gguf_name, family, source))?;
        let read_error = |e: candle_core::Error| invalid(format!("{source}: cannot read tensor '{gguf_name}' of type {:?} ({})", info.ggml_dtype, reason(e)));
        let tensor = content.tensor(reader, gguf_name, &Device::Cpu).and_then(|q| q.dequantize(&Device::Cpu)).map_err(read_error)?;
        let tensor = match (family, name.rsplit('.').nth(1)) {
            (Family::Llama, Some("q_proj")) if name.ends_with(".weight") => unpermute(&tensor, config.num_heads).map_err(read_error)?,
            (Family::Llama, Some("k_proj")) if name.ends_with(".weight") => unpermute(&tensor, config.num_kv_heads).map_err(read_error)?,
            (Family::Gpt2, _) if is_conv1d(&name) => tensor.t().and_then(|t| t.contiguous()).map_err(read_error)?,
            _ => tensor,
        };
        ensure_finite(&tensor, gguf_name, source)?;
        weights.insert(name, tensor);
    }
    Ok(weights)
}

/// llama.cpp's converter reorders each head's rows from [first half; second half] to
/// interleaved pairs, for its rotary kernel; this restores the HuggingFace order.
fn unpermute(w: &Tensor, heads: usize) -> candle_core::Result<Tensor> {
    let (rows, cols) = w.dims2()?;
    w.reshape((heads, rows / heads / 2, 2, cols))?.transpose(1, 2)?.contiguous()?.reshape((rows, cols))
}

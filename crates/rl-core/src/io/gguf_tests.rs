//! GGUF loading on real files written here from a tiny Llama (as llama.cpp's converter
//! writes them: Q/K rows permuted, tokenizer in metadata), and bad GGUF input.

use std::path::{Path, PathBuf};

use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::Tensor;

use super::gguf_names::{LAYER_MODULES, LLAMA, MODEL_TENSORS};
use super::hf_tests::{assert_same_weights, max_abs_diff, temp_dir};
use super::{load_model, load_tokenizer, LoadedModel};
use crate::error::ErrorCode;
use crate::model::Architecture;
use crate::tiny::make_tiny_model;

fn gguf_name(model: &LoadedModel, hf: &str) -> String {
    let mut candidates: Vec<String> = MODEL_TENSORS.iter().map(|(g, _)| g.to_string()).collect();
    for l in 0..model.config.num_layers {
        for (g, _) in LAYER_MODULES {
            candidates.push(format!("blk.{l}.{g}.weight"));
            candidates.push(format!("blk.{l}.{g}.bias"));
        }
    }
    candidates.into_iter().find(|g| LLAMA.hf_name(g).as_deref() == Some(hf)).unwrap()
}

/// llama.cpp's permutation of Q/K rows (the inverse of the loader's).
fn permute(w: &Tensor, heads: usize) -> Tensor {
    let (rows, cols) = w.dims2().unwrap();
    w.reshape((heads, 2, rows / heads / 2, cols)).unwrap().transpose(1, 2).unwrap().contiguous().unwrap().reshape((rows, cols)).unwrap()
}

fn tokenizer_metadata(model: &LoadedModel) -> Vec<(String, Value)> {
    let json: serde_json::Value = serde_json::from_str(&model.tokenizer.to_json().unwrap()).unwrap();
    let vocab = json["model"]["vocab"].as_object().unwrap();
    let mut tokens = vec![String::new(); vocab.len()];
    for (text, id) in vocab {
        tokens[id.as_u64().unwrap() as usize] = text.clone();
    }
    let merges: Vec<Value> = json["model"]["merges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| Value::String(format!("{} {}", m[0].as_str().unwrap(), m[1].as_str().unwrap())))
        .collect();
    let types = tokens.iter().map(|t| Value::I32(if t.starts_with("<|") { 3 } else { 1 })).collect();
    let s = &model.special_tokens;
    vec![
        ("tokenizer.ggml.model".into(), Value::String("gpt2".into())),
        ("tokenizer.ggml.pre".into(), Value::String("gpt2".into())),
        ("tokenizer.ggml.tokens".into(), Value::Array(tokens.into_iter().map(Value::String).collect())),
        ("tokenizer.ggml.merges".into(), Value::Array(merges)),
        ("tokenizer.ggml.token_type".into(), Value::Array(types)),
        ("tokenizer.ggml.bos_token_id".into(), Value::U32(s.bos.as_ref().unwrap().id)),
        ("tokenizer.ggml.eos_token_id".into(), Value::U32(s.eos[0].id)),
        ("tokenizer.ggml.padding_token_id".into(), Value::U32(s.pad.as_ref().unwrap().id)),
        ("tokenizer.chat_template".into(), Value::String(model.chat_template.clone().unwrap())),
    ]
}

/// Writes `model` as llama.cpp would; matrices in `dtype`, 1-D tensors in f32.
fn write_gguf(model: &LoadedModel, dtype: GgmlDType, path: &Path, edit: impl Fn(&mut Vec<(String, Value)>)) {
    write_gguf_as("llama", model, dtype, path, edit)
}

/// llama.cpp permutes Q/K rows for "llama" only; "qwen2" keeps HuggingFace's order.
fn write_gguf_as(arch: &str, model: &LoadedModel, dtype: GgmlDType, path: &Path, edit: impl Fn(&mut Vec<(String, Value)>)) {
    let c = &model.config;
    let permuted = arch == "llama";
    let mut meta: Vec<(String, Value)> = vec![
        ("general.architecture".into(), Value::String(arch.into())),
        ("llama.context_length".into(), Value::U32(c.max_position_embeddings as u32)),
        ("llama.embedding_length".into(), Value::U32(c.hidden_size as u32)),
        ("llama.block_count".into(), Value::U32(c.num_layers as u32)),
        ("llama.feed_forward_length".into(), Value::U32(c.intermediate_size as u32)),
        ("llama.attention.head_count".into(), Value::U32(c.num_heads as u32)),
        ("llama.attention.head_count_kv".into(), Value::U32(c.num_kv_heads as u32)),
        ("llama.attention.layer_norm_rms_epsilon".into(), Value::F32(c.norm_eps as f32)),
        ("llama.rope.freq_base".into(), Value::F32(c.rope_theta as f32)),
    ];
    for (key, _) in meta.iter_mut() {
        if let Some(rest) = key.strip_prefix("llama.") {
            *key = format!("{arch}.{rest}");
        }
    }
    meta.extend(tokenizer_metadata(model));
    edit(&mut meta);
    let tensors: Vec<(String, QTensor)> = model
        .weights
        .iter()
        .map(|(name, t)| {
            let t = if permuted && name.ends_with("q_proj.weight") {
                permute(t, c.num_heads)
            } else if permuted && name.ends_with("k_proj.weight") {
                permute(t, c.num_kv_heads)
            } else {
                t.clone()
            };
            let dtype = if t.rank() == 1 { GgmlDType::F32 } else { dtype };
            (gguf_name(model, name), QTensor::quantize(&t, dtype).unwrap())
        })
        .collect();
    let meta_refs: Vec<(&str, &Value)> = meta.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, t)| (k.as_str(), t)).collect();
    let mut file = std::fs::File::create(path).unwrap();
    gguf_file::write(&mut file, &meta_refs, &tensor_refs).unwrap();
}

fn tiny_gguf(name: &str, dtype: GgmlDType) -> (LoadedModel, PathBuf) {
    let model = make_tiny_model(Architecture::Llama, 5).unwrap();
    let path = temp_dir(name).join("model.gguf");
    write_gguf(&model, dtype, &path, |_| {});
    (model, path)
}

fn load_err(path: &Path) -> String {
    let err = load_model(path).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidModel, "{}", err.message);
    err.message
}

#[test]
fn an_f32_gguf_gives_the_model_it_was_written_from() {
    let (model, path) = tiny_gguf("f32", GgmlDType::F32);
    let loaded = load_model(&path).unwrap();
    assert_eq!(loaded.config, model.config);
    assert_same_weights(&model, &loaded, 0.0);
    assert_eq!(loaded.special_tokens, model.special_tokens);
    assert_eq!(loaded.chat_template, model.chat_template);
    let text = "<|im_start|>user\nWhere is order 48213? It's late!<|im_end|>\n<|im_start|>assistant\n";
    let ids = model.tokenizer.encode(text).unwrap();
    assert_eq!(loaded.tokenizer.encode(text).unwrap(), ids);
    assert_eq!(loaded.tokenizer.decode(&ids).unwrap(), text);
    assert_eq!(load_tokenizer(&path).unwrap().encode(text).unwrap(), ids);
}

#[test]
fn a_qwen2_gguf_keeps_its_biases_and_row_order() {
    let mut model = make_tiny_model(Architecture::Llama, 5).unwrap();
    model.config.attention_bias = true;
    model.weights = crate::model::random_weights(&model.config, 9).unwrap();
    let bias = "model.layers.1.self_attn.k_proj.bias";
    model.weights.insert(bias.into(), Tensor::arange(0f32, 32f32, &candle_core::Device::Cpu).unwrap());
    let path = temp_dir("qwen2").join("model.gguf");
    write_gguf_as("qwen2", &model, GgmlDType::F32, &path, |_| {});
    let loaded = load_model(&path).unwrap();
    assert_eq!(loaded.config, model.config);
    assert_same_weights(&model, &loaded, 0.0);
}

#[test]
fn every_supported_pre_tokenizer_loads_and_round_trips() {
    let model = make_tiny_model(Architecture::Llama, 5).unwrap();
    let dir = temp_dir("pre");
    let text = "Order 48213 isn't here; I'll wait.\n\nThanks  a lot!";
    for pre in ["gpt2", "smollm", "qwen2", "llama-bpe"] {
        let path = dir.join(format!("{pre}.gguf"));
        write_gguf(&model, GgmlDType::F32, &path, |meta| {
            meta.iter_mut().find(|(k, _)| k == "tokenizer.ggml.pre").unwrap().1 = Value::String(pre.into());
        });
        let tokenizer = load_tokenizer(&path).unwrap();
        let ids = tokenizer.encode(text).unwrap();
        assert_eq!(tokenizer.decode(&ids).unwrap(), text, "{pre}");
    }
}

#[test]
fn quantized_ggufs_dequantize_close_to_the_original() {
    for (dtype, tolerance) in [(GgmlDType::Q8_0, 2e-3), (GgmlDType::Q4_0, 3e-2), (GgmlDType::Q4_1, 3e-2), (GgmlDType::F16, 1e-4)] {
        let (model, path) = tiny_gguf(&format!("{dtype:?}"), dtype);
        let loaded = load_model(&path).unwrap();
        for (name, t) in &model.weights {
            let diff = max_abs_diff(t, &loaded.weights[name]);
            assert!(diff <= tolerance, "{dtype:?} {name}: {diff}");
        }
    }
}

#[test]
fn truncated_and_foreign_files_are_clear_errors() {
    let (_, path) = tiny_gguf("truncated", GgmlDType::F32);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 1000]).unwrap();
    let m = load_err(&path);
    // The header's tensor directory already shows the data cut short.
    assert!(m.contains("does not lie inside the file") && m.contains("truncated") && m.contains(path.to_str().unwrap()) && !m.contains('\n'), "{m}");
    std::fs::write(&path, &bytes[..100]).unwrap();
    let m = load_err(&path);
    assert!(m.contains("not a valid GGUF file"), "{m}");
    std::fs::write(&path, b"PK\x03\x04 this is a zip file, not a model").unwrap();
    assert!(load_err(&path).contains("not a valid GGUF file"));
}

#[test]
fn unsupported_metadata_is_named() {
    let model = make_tiny_model(Architecture::Llama, 5).unwrap();
    let dir = temp_dir("metadata");
    let cases: [(&str, Value, &str); 4] = [
        ("general.architecture", Value::String("falcon".into()), "'falcon'"),
        ("tokenizer.ggml.model", Value::String("llama".into()), "tokenizer.ggml.model is 'llama'"),
        ("tokenizer.ggml.pre", Value::String("mystery".into()), "'mystery'"),
        ("llama.block_count", Value::String("two".into()), "llama.block_count"),
    ];
    for (i, (key, value, expected)) in cases.into_iter().enumerate() {
        let path = dir.join(format!("{i}.gguf"));
        write_gguf(&model, GgmlDType::F32, &path, |meta| {
            meta.iter_mut().find(|(k, _)| k == key).unwrap().1 = value.clone();
        });
        let m = load_err(&path);
        assert!(m.contains(expected), "{m}");
    }
    let mut with_bias = model.clone();
    with_bias.weights.insert("model.layers.0.self_attn.q_proj.bias".into(), Tensor::zeros(64, candle_core::DType::F32, &candle_core::Device::Cpu).unwrap());
    let path = dir.join("bias.gguf");
    write_gguf(&with_bias, GgmlDType::F32, &path, |_| {});
    assert!(load_err(&path).contains("'blk.0.attn_q.bias'"));
    let path = dir.join("missing.gguf");
    write_gguf(&model, GgmlDType::F32, &path, |meta| meta.retain(|(k, _)| k != "llama.embedding_length"));
    assert!(load_err(&path).contains("no metadata 'llama.embedding_length'"));
}

#[test]
fn absurd_metadata_sizes_are_refused_against_the_tensors() {
    let model = make_tiny_model(Architecture::Llama, 5).unwrap();
    let dir = temp_dir("absurd");
    let cases: [(&str, Value, &str); 6] = [
        ("llama.block_count", Value::U64(1_000_000_000), "llama.block_count is 1000000000 but the weights hold 2 layers"),
        ("llama.context_length", Value::U32(u32::MAX), "llama.context_length is 4294967295; at most 1048576"),
        ("llama.embedding_length", Value::U64(1 << 40), "llama.embedding_length (1099511627776) does not match tensor 'model.embed_tokens.weight'"),
        ("llama.feed_forward_length", Value::U64(1 << 40), "llama.feed_forward_length (1099511627776) does not match"),
        ("llama.attention.head_count", Value::U64(1 << 40), "llama.attention.head_count"),
        ("llama.rope.freq_base", Value::F32(f32::NAN), "llama.rope.freq_base is NaN"),
    ];
    for (i, (key, value, expected)) in cases.into_iter().enumerate() {
        let path = dir.join(format!("{i}.gguf"));
        write_gguf(&model, GgmlDType::F32, &path, |meta| {
            meta.iter_mut().find(|(k, _)| k == key).unwrap().1 = value.clone();
        });
        let m = load_err(&path);
        assert!(m.contains(expected) && m.contains(path.to_str().unwrap()), "{key}: {m}");
    }
}

#[test]
fn an_alignment_that_is_not_a_power_of_two_is_an_error_not_a_panic() {
    let model = make_tiny_model(Architecture::Llama, 5).unwrap();
    let dir = temp_dir("alignment");
    for (i, alignment) in [Value::U32(0), Value::U32(48), Value::I32(-32), Value::String("32".into())].into_iter().enumerate() {
        let path = dir.join(format!("{i}.gguf"));
        write_gguf(&model, GgmlDType::F32, &path, |meta| meta.push(("general.alignment".into(), alignment.clone())));
        let m = load_err(&path);
        assert!(m.contains("'general.alignment'") && m.contains("power of two"), "{m}");
        assert!(load_tokenizer(&path).is_err(), "the tokenizer reads the same header");
    }
}

#[test]
fn non_finite_weights_are_refused_naming_the_tensor() {
    let mut model = make_tiny_model(Architecture::Llama, 5).unwrap();
    let name = "model.layers.1.post_attention_layernorm.weight";
    let mut data = model.weights[name].to_vec1::<f32>().unwrap();
    data[5] = f32::INFINITY;
    model.weights.insert(name.into(), Tensor::new(data, &candle_core::Device::Cpu).unwrap());
    let path = temp_dir("non-finite").join("model.gguf");
    write_gguf(&model, GgmlDType::F32, &path, |_| {});
    let m = load_err(&path);
    assert!(m.contains("tensor 'blk.1.ffn_norm.weight' holds inf (element 5"), "{m}");
}

/// A GGUF v3 header written byte by byte, to state sizes no writer would.
struct RawGguf(Vec<u8>);

impl RawGguf {
    fn new(tensors: u64, metadata: u64) -> Self {
        let mut raw = RawGguf(b"GGUF".to_vec());
        raw.u32(3).u64(tensors).u64(metadata);
        raw
    }
    fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend(v.to_le_bytes());
        self
    }
    fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend(v.to_le_bytes());
        self
    }
    fn str(&mut self, s: &str) -> &mut Self {
        self.u64(s.len() as u64);
        self.0.extend(s.as_bytes());
        self
    }
    /// A tensor entry: name, dimensions (GGUF order), type, offset.
    fn tensor(&mut self, name: &str, dims: &[u64], dtype: u32, offset: u64) -> &mut Self {
        self.str(name).u32(dims.len() as u32);
        for &d in dims {
            self.u64(d);
        }
        self.u32(dtype).u64(offset)
    }
}

#[test]
fn header_sizes_beyond_the_file_are_refused_before_allocating() {
    let path = temp_dir("raw-header").join("model.gguf");
    let padded = |mut raw: RawGguf| {
        raw.0.resize(raw.0.len() + 256, 0);
        raw.0
    };
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (padded(RawGguf::new(u64::MAX, 0)), "declares 18446744073709551615 tensors"),
        (padded(RawGguf::new(0, u64::MAX / 2)), "metadata entries, which cannot fit"),
        (padded({
            let mut r = RawGguf::new(0, 1);
            r.u64(1 << 40);
            r
        }), "a metadata key of 1099511627776 bytes"),
        // An array of 2^40 u32 in a file of a few hundred bytes.
        (padded({
            let mut r = RawGguf::new(0, 1);
            r.str("tokenizer.ggml.token_type").u32(9).u32(4).u64(1 << 40);
            r
        }), "'tokenizer.ggml.token_type' declares 1099511627776 elements"),
        // A string value of 2^62 bytes.
        (padded({
            let mut r = RawGguf::new(0, 1);
            r.str("general.name").u32(8).u64(1 << 62);
            r
        }), "metadata 'general.name' of 4611686018427387904 bytes"),
        // Dimensions whose product overflows, and a tensor past the end of the file.
        (padded({
            let mut r = RawGguf::new(1, 0);
            r.tensor("token_embd.weight", &[1 << 40, 1 << 40], 0, 0);
            r
        }), "tensor 'token_embd.weight' has shape [1099511627776, 1099511627776]"),
        (padded({
            let mut r = RawGguf::new(1, 0);
            r.tensor("token_embd.weight", &[64, 1 << 30], 0, 0);
            r
        }), "tensor 'token_embd.weight' (F32, shape [1073741824, 64]) at offset 0 does not lie inside the file"),
        (padded({
            let mut r = RawGguf::new(1, 0);
            r.tensor("token_embd.weight", &[2, 2], 0, u64::MAX - 8);
            r
        }), "does not lie inside the file"),
        (padded({
            let mut r = RawGguf::new(1, 0);
            r.tensor("token_embd.weight", &[2, 2, 2, 2, 2], 0, 0);
            r
        }), "has 5 dimensions"),
        (padded({
            let mut r = RawGguf::new(1, 0);
            r.tensor("token_embd.weight", &[2, 2], 99, 0);
            r
        }), "unknown type 99"),
    ];
    for (bytes, expected) in cases {
        std::fs::write(&path, &bytes).unwrap();
        let m = load_err(&path);
        assert!(m.contains(expected) && m.contains("not a valid GGUF file"), "{expected}: {m}");
    }
}

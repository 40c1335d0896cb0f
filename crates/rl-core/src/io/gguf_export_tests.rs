//! GGUF export on real files: the project's GGUF loader reads each export back and scores
//! the same tokens as the source model; the file's layout is checked byte by byte against
//! llama.cpp's conventions (names, Q/K row order, q8_0 blocks, alignment, metadata).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::quantized::gguf_file::{Content, Value};
use candle_core::quantized::GgmlDType;
use candle_core::{Device, Tensor};

use super::hf_tests::{max_abs_diff, temp_dir};
use super::{export_gguf, load_model, load_tokenizer, GgufType, LoadedModel};
use crate::engine::Engine;
use crate::error::ErrorCode;
use crate::model::{random_weights, Architecture, RopeScaling};
use crate::score::ScoreOptions;
use crate::tiny::make_tiny_model;
use crate::tokenizer::TextTokenizer;

const CHAT: &str = "<|im_start|>user\nWhere is order 48213? It's late!<|im_end|>\n<|im_start|>assistant\nSorry about that, let me check.<|im_end|>\n";

/// q8_0 rounds each weight to 1/127 of its block's largest magnitude. Over 16 tiny random
/// models (GPT-2 and Llama, 8 seeds each) the largest log-probability difference on CHAT's
/// tokens measured 2.9e-3 to 6.7e-3; the trained demo model, whose predictions are sharper,
/// measures 3.5e-2 (test/export.gguf.test.ts).
const Q8_0_LOGPROB_TOLERANCE: f32 = 1e-2;

fn exported(model: &LoadedModel, name: &str, tensor_type: GgufType) -> PathBuf {
    let path = temp_dir(name).join("model.gguf");
    export_gguf(model, &path, tensor_type, Some("tiny")).unwrap();
    path
}

fn logprobs(model: &LoadedModel, tokens: &[u32]) -> Vec<f32> {
    let ids: Vec<i32> = tokens.iter().map(|&t| t as i32).collect();
    let engine = Engine::new(model.clone()).unwrap();
    engine.score(&[&ids], &ScoreOptions { start: 1, temperature: 1.0, entropy: false }).unwrap().remove(0).logprobs
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

fn header(path: &Path) -> Content {
    Content::read(&mut std::fs::File::open(path).unwrap()).unwrap()
}

fn string<'a>(content: &'a Content, key: &str) -> &'a str {
    match &content.metadata[key] {
        Value::String(s) => s,
        other => panic!("{key}: {other:?}"),
    }
}

fn tensor(content: &Content, path: &Path, name: &str) -> Tensor {
    content.tensor(&mut std::fs::File::open(path).unwrap(), name, &Device::Cpu).unwrap().dequantize(&Device::Cpu).unwrap()
}

#[test]
fn exports_load_back_and_score_the_same_tokens_as_the_source() {
    for arch in [Architecture::Gpt2, Architecture::Llama] {
        let model = make_tiny_model(arch, 7).unwrap();
        let tokens = model.tokenizer.encode(CHAT).unwrap();
        let expected = logprobs(&model, &tokens);
        for (tensor_type, tolerance) in [(GgufType::F32, 1e-5), (GgufType::F16, 1e-2), (GgufType::Q8_0, Q8_0_LOGPROB_TOLERANCE)] {
            let path = exported(&model, &format!("score-{arch:?}-{tensor_type:?}"), tensor_type);
            let loaded = load_model(&path).unwrap();
            assert_eq!(loaded.config, model.config, "{arch:?} {tensor_type:?}");
            assert_eq!(loaded.special_tokens, model.special_tokens);
            assert_eq!(loaded.chat_template, model.chat_template);
            assert_eq!((loaded.generation.temperature, loaded.generation.top_p), (model.generation.temperature, model.generation.top_p));
            assert_eq!(loaded.tokenizer.encode(CHAT).unwrap(), tokens);
            let diff = max_diff(&logprobs(&loaded, &tokens), &expected);
            assert!(diff <= tolerance, "{arch:?} {tensor_type:?}: log-probs differ by {diff}");
            if tensor_type == GgufType::F32 {
                for (name, t) in &model.weights {
                    assert_eq!(max_abs_diff(t, &loaded.weights[name]), 0.0, "{name}");
                }
            }
        }
    }
}

#[test]
fn the_tokenizer_round_trips_through_the_gguf_metadata() {
    let text = "Order 48213 isn't here; I'LL wait.\n\n  Thanks a lot! café ☕ 我想 <|im_start|>user\nhi<|im_end|>";
    for arch in [Architecture::Gpt2, Architecture::Llama] {
        let model = make_tiny_model(arch, 1).unwrap();
        let path = exported(&model, &format!("tokenizer-{arch:?}"), GgufType::F16);
        let from_gguf = load_tokenizer(&path).unwrap();
        let ids = model.tokenizer.encode(text).unwrap();
        assert_eq!(from_gguf.encode(text).unwrap(), ids);
        assert_eq!(from_gguf.decode(&ids).unwrap(), text);
        let content = header(&path);
        assert_eq!(string(&content, "tokenizer.ggml.model"), "gpt2");
        // The tiny tokenizer splits as GPT-2 does, which llama.cpp calls "gpt-2".
        assert_eq!(string(&content, "tokenizer.ggml.pre"), "gpt-2");
        assert_eq!(string(&content, "tokenizer.chat_template"), model.chat_template.as_deref().unwrap());
        let Value::Array(types) = &content.metadata["tokenizer.ggml.token_type"] else { panic!() };
        let im_end = model.tokenizer.token_to_id("<|im_end|>").unwrap() as usize;
        assert!(matches!(types[im_end], Value::I32(3)), "special tokens are control tokens");
        assert!(matches!(types[im_end + 1], Value::I32(1)));
        assert!(matches!(content.metadata["tokenizer.ggml.eos_token_id"], Value::U32(id) if id as usize == im_end));
        assert!(matches!(content.metadata["tokenizer.ggml.add_bos_token"], Value::Bool(false)));
    }
}

#[test]
fn the_file_follows_llama_cpps_layout() {
    let model = make_tiny_model(Architecture::Llama, 2).unwrap();
    let path = exported(&model, "layout-llama", GgufType::Q8_0);
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(&bytes[..4], b"GGUF");
    assert_eq!(u32::from_le_bytes(bytes[4..8].try_into().unwrap()), 3, "GGUF version");
    let content = header(&path);
    assert_eq!(content.tensor_data_offset % 32, 0);
    let c = &model.config;
    let mut names: Vec<&str> = content.tensor_infos.keys().map(String::as_str).collect();
    names.sort();
    let mut expected = vec!["output_norm.weight", "token_embd.weight"];
    let per_layer = ["attn_k", "attn_norm", "attn_output", "attn_q", "attn_v", "ffn_down", "ffn_gate", "ffn_norm", "ffn_up"];
    let layer_names: Vec<String> = (0..c.num_layers).flat_map(|l| per_layer.map(|m| format!("blk.{l}.{m}.weight"))).collect();
    expected.extend(layer_names.iter().map(String::as_str));
    expected.sort();
    assert_eq!(names, expected, "a tied model has no output.weight");
    for (name, info) in &content.tensor_infos {
        assert_eq!(info.offset % 32, 0, "{name} is not 32-byte aligned");
        let want = if info.shape.rank() == 1 { GgmlDType::F32 } else { GgmlDType::Q8_0 };
        assert_eq!(info.ggml_dtype, want, "{name}");
    }
    assert_eq!(content.tensor_infos["blk.1.ffn_up.weight"].shape.dims(), &[c.intermediate_size, c.hidden_size]);
    let u32_key = |k: &str| match content.metadata[k] {
        Value::U32(x) => x as usize,
        ref other => panic!("{k}: {other:?}"),
    };
    assert_eq!(string(&content, "general.architecture"), "llama");
    assert_eq!(u32_key("general.file_type"), 7, "LLAMA_FTYPE_MOSTLY_Q8_0");
    assert_eq!(u32_key("llama.context_length"), c.max_position_embeddings);
    assert_eq!(u32_key("llama.embedding_length"), c.hidden_size);
    assert_eq!(u32_key("llama.block_count"), c.num_layers);
    assert_eq!(u32_key("llama.feed_forward_length"), c.intermediate_size);
    assert_eq!(u32_key("llama.attention.head_count"), c.num_heads);
    assert_eq!(u32_key("llama.attention.head_count_kv"), c.num_kv_heads);
    assert_eq!(u32_key("llama.vocab_size"), c.vocab_size);
    assert!(matches!(content.metadata["llama.rope.freq_base"], Value::F32(x) if x == 10000.0));
    assert!(matches!(content.metadata["llama.attention.layer_norm_rms_epsilon"], Value::F32(x) if x == 1e-6));
}

/// Reads the raw bytes of tensor `name` from the file.
fn raw_tensor<'a>(bytes: &'a [u8], content: &Content, name: &str) -> &'a [u8] {
    let start = (content.tensor_data_offset + content.tensor_infos[name].offset) as usize;
    &bytes[start..]
}

#[test]
fn llama_q_and_k_rows_are_interleaved_per_head_for_llama_cpps_rotary_kernel() {
    let model = make_tiny_model(Architecture::Llama, 4).unwrap();
    let path = exported(&model, "permute", GgufType::F32);
    let content = header(&path);
    let c = &model.config;
    let d = c.head_dim;
    for (module, gguf, heads) in [("q_proj", "attn_q", c.num_heads), ("k_proj", "attn_k", c.num_kv_heads)] {
        let original = model.weights[&format!("model.layers.1.self_attn.{module}.weight")].to_vec2::<f32>().unwrap();
        let stored = tensor(&content, &path, &format!("blk.1.{gguf}.weight")).to_vec2::<f32>().unwrap();
        for h in 0..heads {
            for i in 0..d / 2 {
                // HuggingFace rotates row i against row i + d/2; llama.cpp rotates 2i against 2i+1.
                assert_eq!(stored[h * d + 2 * i], original[h * d + i]);
                assert_eq!(stored[h * d + 2 * i + 1], original[h * d + d / 2 + i]);
            }
        }
    }
    let v = tensor(&content, &path, "blk.1.attn_v.weight");
    assert_eq!(max_abs_diff(&v, &model.weights["model.layers.1.self_attn.v_proj.weight"]), 0.0, "v keeps its order");
}

#[test]
fn gpt2_uses_llama_cpps_names_and_linear_layout() {
    let model = make_tiny_model(Architecture::Gpt2, 4).unwrap();
    let path = exported(&model, "gpt2-layout", GgufType::Q8_0);
    let content = header(&path);
    assert_eq!(string(&content, "general.architecture"), "gpt2");
    assert!(matches!(content.metadata["gpt2.attention.layer_norm_epsilon"], Value::F32(x) if x == 1e-5));
    for name in ["token_embd.weight", "position_embd.weight", "output_norm.weight", "output_norm.bias", "blk.0.attn_qkv.bias", "blk.1.ffn_down.weight"] {
        assert!(content.tensor_infos.contains_key(name), "{name}");
    }
    assert!(!content.tensor_infos.contains_key("output.weight"));
    // Positions stay f32 as llama.cpp's converter keeps them; matrices are q8_0.
    assert_eq!(content.tensor_infos["position_embd.weight"].ggml_dtype, GgmlDType::F32);
    assert_eq!(content.tensor_infos["blk.0.attn_qkv.weight"].ggml_dtype, GgmlDType::Q8_0);
    let h = model.config.hidden_size;
    assert_eq!(content.tensor_infos["blk.0.attn_qkv.weight"].shape.dims(), &[3 * h, h], "[out, in]");
    let f32_path = exported(&model, "gpt2-transposed", GgufType::F32);
    let stored = tensor(&header(&f32_path), &f32_path, "blk.0.ffn_up.weight");
    let conv1d = &model.weights["transformer.h.0.mlp.c_fc.weight"];
    assert_eq!(max_abs_diff(&stored, &conv1d.t().unwrap()), 0.0);
}

#[test]
fn q8_0_blocks_are_an_f16_scale_and_32_rounded_bytes() {
    let model = make_tiny_model(Architecture::Llama, 5).unwrap();
    let path = exported(&model, "q8", GgufType::Q8_0);
    let bytes = std::fs::read(&path).unwrap();
    let content = header(&path);
    let row: Vec<f32> = model.weights["model.layers.0.mlp.down_proj.weight"].get(0).unwrap().to_vec1().unwrap();
    let raw = raw_tensor(&bytes, &content, "blk.0.ffn_down.weight");
    for (b, block) in row.chunks(32).enumerate() {
        let at = b * 34;
        let amax = block.iter().fold(0f32, |m, x| m.max(x.abs()));
        let d = amax / 127.0;
        let scale = half_to_f32(u16::from_le_bytes([raw[at], raw[at + 1]]));
        assert!((scale - d).abs() <= d * 1e-3, "block {b}: scale {scale} vs {d}");
        for (j, x) in block.iter().enumerate() {
            assert_eq!(raw[at + 2 + j] as i8, (x / d).round() as i8, "block {b} value {j}");
        }
    }
}

/// IEEE half to f32 for normal numbers (the scales of these weights are normal).
fn half_to_f32(h: u16) -> f32 {
    let sign = if h >> 15 == 1 { -1.0 } else { 1.0 };
    let exponent = ((h >> 10) & 0x1f) as i32;
    let mantissa = (h & 0x3ff) as f32;
    sign * (1.0 + mantissa / 1024.0) * 2f32.powi(exponent - 15)
}

#[test]
fn rows_that_q8_0_cannot_block_fall_back_to_f16() {
    let mut model = make_tiny_model(Architecture::Gpt2, 1).unwrap();
    model.config.intermediate_size = 200;
    model.weights = random_weights(&model.config, 3).unwrap();
    let path = temp_dir("fallback").join("model.gguf");
    let report = export_gguf(&model, &path, GgufType::Q8_0, None).unwrap();
    // ffn_down is [hidden, 200]: 200 values per row is not a whole number of blocks.
    assert_eq!(report.f16_fallbacks, ["blk.0.ffn_down.weight", "blk.1.ffn_down.weight"]);
    let content = header(&path);
    assert_eq!(content.tensor_infos["blk.0.ffn_down.weight"].ggml_dtype, GgmlDType::F16);
    assert_eq!(content.tensor_infos["blk.0.ffn_up.weight"].ggml_dtype, GgmlDType::Q8_0);
    assert_eq!(load_model(&path).unwrap().config, model.config);
}

#[test]
fn embedding_rows_beyond_the_tokenizer_become_unused_pad_tokens() {
    let mut model = make_tiny_model(Architecture::Llama, 1).unwrap();
    let tokenizer_size = model.tokenizer.vocab_size();
    model.config.vocab_size = tokenizer_size + 3;
    model.weights = random_weights(&model.config, 3).unwrap();
    let path = exported(&model, "pad", GgufType::F32);
    let content = header(&path);
    let Value::Array(tokens) = &content.metadata["tokenizer.ggml.tokens"] else { panic!() };
    let Value::Array(types) = &content.metadata["tokenizer.ggml.token_type"] else { panic!() };
    assert_eq!(tokens.len(), tokenizer_size + 3, "one token per embedding row, as llama.cpp requires");
    assert!(matches!(&tokens[tokenizer_size], Value::String(s) if *s == format!("[PAD{tokenizer_size}]")));
    assert!(matches!(types[tokenizer_size], Value::I32(5)));
    let loaded = load_model(&path).unwrap();
    assert_eq!(loaded.config.vocab_size, model.config.vocab_size);
    assert_eq!(loaded.tokenizer.encode(CHAT).unwrap(), model.tokenizer.encode(CHAT).unwrap());
}

#[test]
fn qwen2_style_biases_export_as_qwen2_without_permutation() {
    let mut model = make_tiny_model(Architecture::Llama, 5).unwrap();
    model.config.attention_bias = true;
    model.weights = random_weights(&model.config, 9).unwrap();
    model.weights.insert("model.layers.1.self_attn.k_proj.bias".into(), Tensor::arange(0f32, 32f32, &Device::Cpu).unwrap());
    let path = exported(&model, "qwen2", GgufType::F32);
    assert_eq!(string(&header(&path), "general.architecture"), "qwen2");
    let loaded = load_model(&path).unwrap();
    assert_eq!(loaded.config, model.config);
    for (name, t) in &model.weights {
        assert_eq!(max_abs_diff(t, &loaded.weights[name]), 0.0, "{name}");
    }
}

#[test]
fn rope_scaling_is_written_as_llama_cpp_reads_it() {
    let mut model = make_tiny_model(Architecture::Llama, 1).unwrap();
    model.config.rope_scaling = Some(RopeScaling::Linear { factor: 4.0 });
    let path = exported(&model, "rope-linear", GgufType::F32);
    assert_eq!(load_model(&path).unwrap().config, model.config);

    model.config.rope_theta = 500000.0;
    model.config.rope_scaling = Some(RopeScaling::Llama3 { factor: 8.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 8192 });
    let path = exported(&model, "rope-llama3", GgufType::F16);
    let content = header(&path);
    let factors = tensor(&content, &path, "rope_freqs.weight").to_vec1::<f32>().unwrap();
    assert_eq!(factors.len(), model.config.head_dim / 2);
    // The fastest rotation (wavelength 2 pi) is kept, the slowest (longer than 8192) slowed 8x.
    assert_eq!(factors[0], 1.0);
    assert!((factors[factors.len() - 1] - 8.0).abs() < 1e-6, "{factors:?}");
    assert_eq!(content.tensor_infos["rope_freqs.weight"].ggml_dtype, GgmlDType::F32);
}

#[test]
fn a_lora_engine_exports_its_merged_weights() {
    let model = make_tiny_model(Architecture::Llama, 6).unwrap();
    let lora = crate::lora::LoraConfig { rank: 4, alpha: 8.0, target_modules: vec![], seed: 1 };
    let engine = Engine::with_lora(model, Some(&crate::lora::LoraSource::Fresh(lora))).unwrap();
    // B starts at zero; give it values so the merged weights differ from the base.
    let adapters = engine.lora.as_ref().unwrap();
    for p in adapters.params() {
        let shape = p.var.dims().to_vec();
        p.var.set(&(Tensor::randn(0f32, 0.05, shape, &Device::Cpu).unwrap())).unwrap();
    }
    adapters.refresh(engine.params()).unwrap();
    let merged = engine.merged_model().unwrap();
    let path = exported(&merged, "lora", GgufType::F32);
    let tokens: Vec<i32> = merged.tokenizer.encode(CHAT).unwrap().into_iter().map(|t| t as i32).collect();
    let options = ScoreOptions { start: 1, temperature: 1.0, entropy: false };
    let from_engine = engine.score(&[&tokens], &options).unwrap().remove(0).logprobs;
    let from_gguf = Engine::load(&path, None).unwrap().score(&[&tokens], &options).unwrap().remove(0).logprobs;
    assert!(max_diff(&from_gguf, &from_engine) <= 1e-5);
    let base = make_tiny_model(Architecture::Llama, 6).unwrap();
    let unmerged = logprobs(&base, &tokens.iter().map(|&t| t as u32).collect::<Vec<_>>());
    assert!(max_diff(&from_gguf, &unmerged) > 1e-3, "the adapter changed the model");
}

fn tokenizer_with(model: &LoadedModel, edit: impl Fn(&mut serde_json::Value)) -> TextTokenizer {
    let mut json: serde_json::Value = serde_json::from_str(&model.tokenizer.to_json().unwrap()).unwrap();
    edit(&mut json);
    TextTokenizer::from_json(&json.to_string(), "edited").unwrap()
}

#[test]
fn tokenizers_llama_cpp_would_split_differently_are_refused() {
    let model = make_tiny_model(Architecture::Llama, 1).unwrap();
    let dir = temp_dir("refused");
    let cases: [(&str, fn(&mut serde_json::Value), &str); 2] = [
        ("byte-fallback", |j| j["model"]["byte_fallback"] = true.into(), "SentencePiece-style"),
        // A leading space added to the text: no GGUF pre-tokenizer does that.
        ("prefix-space", |j| j["pre_tokenizer"]["add_prefix_space"] = true.into(), "splits text unlike every pre-tokenizer"),
    ];
    for (name, edit, expected) in cases {
        let edited = LoadedModel { tokenizer: tokenizer_with(&model, edit), ..model.clone() };
        let path = dir.join(format!("{name}.gguf"));
        let err = export_gguf(&edited, &path, GgufType::F16, None).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidModel);
        assert!(err.message.contains(expected), "{}", err.message);
        assert!(!path.exists() && !dir.join(format!("{name}.gguf.partial")).exists(), "nothing is left behind");
    }
    assert_eq!(GgufType::parse("q4_k").unwrap_err().code, ErrorCode::InvalidArgument);
    let missing = dir.join("no/such/folder/model.gguf");
    let err = export_gguf(&model, &missing, GgufType::F16, None).unwrap_err();
    assert!(err.message.contains("cannot write"), "{}", err.message);
}

#[test]
fn metadata_keys_are_unique() {
    let model = make_tiny_model(Architecture::Gpt2, 1).unwrap();
    let path = exported(&model, "unique", GgufType::F16);
    let bytes = std::fs::read(&path).unwrap();
    let declared = u64::from_le_bytes(bytes[16..24].try_into().unwrap()) as usize;
    let content: HashMap<String, Value> = header(&path).metadata;
    assert_eq!(content.len(), declared, "as many distinct keys as the header announces");
}

/// The committed parity fixture: a Llama folder written by transformers, and the same model
/// written to GGUF by tools/make_parity_fixtures.py with llama.cpp's gguf-py, Q/K permuted as
/// convert_hf_to_gguf.py does.
#[test]
fn the_export_of_the_parity_fixture_matches_the_gguf_py_written_file() {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../test/fixtures/parity");
    let model = load_model(&fixtures.join("llama")).unwrap();
    let path = exported(&model, "fixture", GgufType::F32);
    let ours = header(&path);
    let reference_path = fixtures.join("llama-gguf/model-f32.gguf");
    let reference = header(&reference_path);
    let mut names: Vec<&String> = ours.tensor_infos.keys().collect();
    names.sort();
    let mut reference_names: Vec<&String> = reference.tensor_infos.keys().collect();
    reference_names.sort();
    assert_eq!(names, reference_names, "an untied lm_head is output.weight");
    for name in names {
        assert_eq!(ours.tensor_infos[name].shape, reference.tensor_infos[name].shape, "{name}");
        let diff = max_abs_diff(&tensor(&ours, &path, name), &tensor(&reference, &reference_path, name));
        assert_eq!(diff, 0.0, "{name}");
    }
    for key in ["tokenizer.ggml.tokens", "tokenizer.ggml.merges", "tokenizer.ggml.token_type", "llama.rope.freq_base", "llama.attention.head_count_kv", "tokenizer.ggml.eos_token_id"] {
        assert_eq!(format!("{:?}", ours.metadata[key]), format!("{:?}", reference.metadata[key]), "{key}");
    }
}

#[test]
fn each_pre_tokenizer_family_is_named_as_llama_cpp_names_it() {
    let model = make_tiny_model(Architecture::Llama, 1).unwrap();
    let entries = super::gguf_vocab::vocab_metadata(&model, "tiny").unwrap().entries;
    let text = "Order 48213 isn't here; I'LL wait.\n\n  Thanks a lot! cafe\u{301} 我想";
    for pre in ["gpt-2", "smollm", "llama-bpe", "qwen2"] {
        // A tokenizer of this family, as a model loaded from such a GGUF file has.
        let mut values: HashMap<String, Value> = entries.iter().cloned().collect();
        values.insert("tokenizer.ggml.pre".into(), Value::String(pre.into()));
        let tokenizer = super::gguf_tokenizer::tokenizer_from_metadata(&super::gguf_metadata::Metadata { values: &values, source: pre.into() }).unwrap();
        let family = LoadedModel { tokenizer, ..model.clone() };
        let path = exported(&family, &format!("pre-{pre}"), GgufType::F16);
        assert_eq!(string(&header(&path), "tokenizer.ggml.pre"), pre);
        assert_eq!(load_tokenizer(&path).unwrap().encode(text).unwrap(), family.tokenizer.encode(text).unwrap(), "{pre}");
    }
}

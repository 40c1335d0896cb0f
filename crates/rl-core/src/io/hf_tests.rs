//! Round trips and bad input for HuggingFace folders, on real files in a temp folder.

use std::path::{Path, PathBuf};

use candle_core::{DType, Tensor};

use super::{load_model, save_model, LoadedModel};
use crate::error::ErrorCode;
use crate::model::Architecture;
use crate::tiny::make_tiny_model;

pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rl-core-io-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    (a - b).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap()
}

pub fn assert_same_weights(a: &LoadedModel, b: &LoadedModel, tolerance: f32) {
    assert_eq!(a.weights.keys().collect::<Vec<_>>(), b.weights.keys().collect::<Vec<_>>());
    for (name, t) in &a.weights {
        assert!(max_abs_diff(t, &b.weights[name]) <= tolerance, "{name}");
    }
}

fn write_safetensors(path: &Path, tensors: Vec<(String, Tensor)>) {
    safetensors::serialize_to_file(tensors.iter().map(|(n, t)| (n.as_str(), t)), None, path).unwrap();
}

fn saved_tiny(arch: Architecture, name: &str) -> (LoadedModel, PathBuf) {
    let model = make_tiny_model(arch, 3).unwrap();
    let dir = temp_dir(name);
    save_model(&dir, &model).unwrap();
    (model, dir)
}

fn load_err(path: &Path) -> String {
    let err = load_model(path).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidModel, "{}", err.message);
    err.message
}

#[test]
fn a_saved_model_loads_back_unchanged() {
    for arch in [Architecture::Gpt2, Architecture::Llama] {
        let (model, dir) = saved_tiny(arch, &format!("roundtrip-{arch:?}"));
        let loaded = load_model(&dir).unwrap();
        assert_eq!(loaded.config, model.config);
        assert_same_weights(&model, &loaded, 0.0);
        assert_eq!(loaded.tokenizer.to_json().unwrap(), model.tokenizer.to_json().unwrap());
        assert_eq!(loaded.chat_template, model.chat_template);
        assert_eq!(loaded.special_tokens, model.special_tokens);
        assert_eq!(loaded.generation, model.generation);
    }
}

#[test]
fn sharded_half_precision_and_unprefixed_checkpoints_load() {
    let (model, dir) = saved_tiny(Architecture::Gpt2, "sharded");
    std::fs::remove_file(dir.join("model.safetensors")).unwrap();
    // Shard 1: bf16 without the "transformer." prefix; shard 2: f16 plus a tied lm_head
    // and GPT-2's causal-mask buffer, which the loader drops.
    let (mut first, mut second) = (Vec::new(), Vec::new());
    let mut weight_map = serde_json::Map::new();
    for (i, (name, t)) in model.weights.iter().enumerate() {
        let short = name.trim_start_matches("transformer.").to_string();
        let (shard, file, dtype) = if i % 2 == 0 { (&mut first, "a.safetensors", DType::BF16) } else { (&mut second, "b.safetensors", DType::F16) };
        weight_map.insert(short.clone(), file.into());
        shard.push((short, t.to_dtype(dtype).unwrap()));
    }
    second.push(("lm_head.weight".into(), model.weights["transformer.wte.weight"].clone()));
    second.push(("h.0.attn.bias".into(), Tensor::ones((1, 1, 4, 4), DType::F32, &candle_core::Device::Cpu).unwrap()));
    write_safetensors(&dir.join("a.safetensors"), first);
    write_safetensors(&dir.join("b.safetensors"), second);
    let index = serde_json::json!({ "metadata": {}, "weight_map": weight_map });
    std::fs::write(dir.join("model.safetensors.index.json"), index.to_string()).unwrap();
    let loaded = load_model(&dir).unwrap();
    // bf16 keeps 8 significant bits: weights of size ~0.06 move by at most ~2.5e-4.
    assert_same_weights(&model, &loaded, 1e-3);
    assert!(loaded.weights.values().all(|t| t.dtype() == DType::F32));
}

#[test]
fn transformers_5_chat_template_file_and_named_templates_are_read() {
    let (_, dir) = saved_tiny(Architecture::Llama, "templates");
    let config_path = dir.join("tokenizer_config.json");
    let mut tc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
    tc["chat_template"] = serde_json::json!([{ "name": "tool_use", "template": "T" }, { "name": "default", "template": "D" }]);
    std::fs::write(&config_path, tc.to_string()).unwrap();
    assert_eq!(load_model(&dir).unwrap().chat_template.as_deref(), Some("D"));
    std::fs::write(dir.join("chat_template.jinja"), "J").unwrap();
    let mut model = load_model(&dir).unwrap();
    assert_eq!(model.chat_template.as_deref(), Some("J"));
    // Saving over the folder replaces the transformers 5 template file too.
    model.chat_template = Some("S".into());
    save_model(&dir, &model).unwrap();
    assert_eq!(load_model(&dir).unwrap().chat_template.as_deref(), Some("S"));
}

#[test]
fn missing_files_name_the_file_and_the_fix() {
    assert!(load_err(Path::new("/nonexistent/model")).contains("does not exist"));
    for (file, expected) in [("tokenizer.json", "no tokenizer.json"), ("model.safetensors", "neither model.safetensors"), ("config.json", "no config.json")] {
        let (_, dir) = saved_tiny(Architecture::Llama, &format!("missing-{file}"));
        std::fs::remove_file(dir.join(file)).unwrap();
        let message = load_err(&dir);
        assert!(message.contains(expected) && message.contains(dir.to_str().unwrap()), "{message}");
    }
}

#[test]
fn corrupt_and_truncated_files_are_clear_errors() {
    let (_, dir) = saved_tiny(Architecture::Gpt2, "corrupt");
    let weights = dir.join("model.safetensors");
    let bytes = std::fs::read(&weights).unwrap();
    std::fs::write(&weights, &bytes[..bytes.len() / 2]).unwrap();
    assert!(load_err(&dir).contains("not a valid safetensors file"));
    std::fs::write(&weights, b"\xff\xff\xff\xff\xff\xff\xff\x7fgarbage").unwrap();
    assert!(load_err(&dir).contains("not a valid safetensors file"));
    std::fs::write(&weights, &bytes).unwrap();
    let config = std::fs::read(dir.join("config.json")).unwrap();
    std::fs::write(dir.join("config.json"), "{ not json").unwrap();
    assert!(load_err(&dir).contains("config.json is not valid JSON"));
    std::fs::write(dir.join("config.json"), r#"{"model_type":"bert","hidden_size":8}"#).unwrap();
    assert!(load_err(&dir).contains("'bert'"));
    std::fs::write(dir.join("config.json"), config).unwrap();
    std::fs::write(dir.join("tokenizer.json"), r#"{"model":{}}"#).unwrap();
    assert!(load_err(&dir).contains("tokenizer.json"));
}

#[test]
fn wrong_shapes_dtypes_and_foreign_tensors_are_rejected() {
    let (model, dir) = saved_tiny(Architecture::Llama, "shapes");
    let path = dir.join("model.safetensors");
    let with = |name: &str, t: Tensor| {
        let mut all: Vec<(String, Tensor)> = model.weights.iter().map(|(n, t)| (n.clone(), t.clone())).collect();
        all.retain(|(n, _)| n != name);
        all.push((name.to_string(), t));
        write_safetensors(&path, all);
        load_err(&dir)
    };
    let norm = "model.norm.weight";
    let m = with(norm, Tensor::ones(7, DType::F32, &candle_core::Device::Cpu).unwrap());
    assert!(m.contains(norm) && m.contains("[7]") && m.contains("[64]"), "{m}");
    let m = with(norm, Tensor::ones(64, DType::U32, &candle_core::Device::Cpu).unwrap());
    assert!(m.contains(norm) && m.contains("U32") && m.contains("float"), "{m}");
    let m = with("model.layers.0.self_attn.q_proj.bias", Tensor::ones(64, DType::F32, &candle_core::Device::Cpu).unwrap());
    assert!(m.contains("q_proj.bias") && m.contains("config.json"), "{m}");
}

#[test]
fn an_unknown_special_token_is_reported() {
    let (_, dir) = saved_tiny(Architecture::Llama, "special");
    let config_path = dir.join("tokenizer_config.json");
    let mut tc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
    tc["eos_token"] = serde_json::json!({ "content": "</s>", "special": true });
    std::fs::write(&config_path, tc.to_string()).unwrap();
    assert!(load_err(&dir).contains("'</s>'"));
}

/// Loads `dir` with `key` of its config.json set to `value`, then restores config.json.
fn load_with_config(dir: &Path, key: &str, value: serde_json::Value) -> crate::error::Result<LoadedModel> {
    let path = dir.join("config.json");
    let original = std::fs::read_to_string(&path).unwrap();
    let mut config: serde_json::Value = serde_json::from_str(&original).unwrap();
    config[key] = value;
    std::fs::write(&path, config.to_string()).unwrap();
    let loaded = load_model(dir);
    std::fs::write(&path, original).unwrap();
    loaded
}

fn load_err_with_config(dir: &Path, key: &str, value: serde_json::Value) -> String {
    let err = load_with_config(dir, key, value).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidModel, "{}", err.message);
    err.message
}

#[test]
fn absurd_config_sizes_are_refused_against_the_weights_before_allocating() {
    use serde_json::json;
    let (_, dir) = saved_tiny(Architecture::Llama, "absurd-llama");
    let config = dir.join("config.json");
    let config = config.to_str().unwrap();
    let cases = [
        ("num_hidden_layers", json!(1_000_000_000u64), "num_hidden_layers is 1000000000 but the weights hold 2 layers"),
        ("max_position_embeddings", json!(1_000_000_000_000u64), "max_position_embeddings is 1000000000000; at most 1048576"),
        ("max_position_embeddings", json!(1e12), "'max_position_embeddings' must be a positive integer"),
        ("hidden_size", json!(1u64 << 40), "hidden_size (1099511627776) does not match tensor 'model.embed_tokens.weight'"),
        ("vocab_size", json!(1u64 << 50), "vocab_size (1125899906842624) does not match"),
        ("intermediate_size", json!(1u64 << 40), "intermediate_size (1099511627776) does not match tensor 'model.layers.0.mlp.gate_proj.weight'"),
        // heads x head_dim overflows usize: a mismatch, not a wrapped product.
        ("head_dim", json!(1u64 << 62), "num_attention_heads (4) x head_dim (4611686018427387904) does not match"),
        ("num_key_value_heads", json!(4), "num_key_value_heads (4) x head_dim (16) does not match tensor 'model.layers.0.self_attn.k_proj.weight'"),
        ("rope_theta", json!(-1.0), "rope_theta is -1"),
    ];
    for (key, value, expected) in cases {
        let m = load_err_with_config(&dir, key, value);
        assert!(m.contains(expected) && m.contains(config), "{key}: {m}");
    }
    assert!(load_model(&dir).is_ok(), "the folder loads again once config.json is restored");

    let (_, dir) = saved_tiny(Architecture::Gpt2, "absurd-gpt2");
    let m = load_err_with_config(&dir, "n_layer", json!(1_000_000_000u64));
    assert!(m.contains("n_layer is 1000000000 but the weights hold 2 layers"), "{m}");
    // Within the limit, but not what transformer.wpe.weight holds.
    let m = load_err_with_config(&dir, "n_positions", json!(1_000_000u64));
    assert!(m.contains("n_positions (1000000) does not match tensor 'transformer.wpe.weight'"), "{m}");
}

#[test]
fn rope_tables_may_not_outweigh_the_weights() {
    // head_dim 128: a million positions would need 512 MiB of RoPE tables for ~2 MiB of weights.
    let size = crate::tiny::TinySize { hidden_size: 256, num_layers: 1, num_heads: 2 };
    let model = crate::tiny::make_tiny_model_sized(Architecture::Llama, 3, size).unwrap();
    let dir = temp_dir("rope-tables");
    save_model(&dir, &model).unwrap();
    let m = load_err_with_config(&dir, "max_position_embeddings", serde_json::json!(1u64 << 20));
    assert!(m.contains("max_position_embeddings is 1048576: its RoPE tables would take 512 MiB"), "{m}");
    // A long context the weights can afford still loads.
    let loaded = load_with_config(&dir, "max_position_embeddings", serde_json::json!(1u64 << 17)).unwrap();
    assert_eq!(loaded.config.max_position_embeddings, 1 << 17);
}

#[test]
fn a_lone_far_layer_tensor_does_not_stand_for_a_billion_layers() {
    let (model, dir) = saved_tiny(Architecture::Llama, "far-layer");
    let mut all: Vec<(String, Tensor)> = model.weights.iter().map(|(n, t)| (n.clone(), t.clone())).collect();
    all.push(("model.layers.999999999.input_layernorm.weight".into(), Tensor::ones(64, DType::F32, &candle_core::Device::Cpu).unwrap()));
    write_safetensors(&dir.join("model.safetensors"), all);
    let m = load_err_with_config(&dir, "num_hidden_layers", serde_json::json!(1_000_000_000u64));
    assert!(m.contains("the weights hold 3 layers numbered 0 to 999999999"), "{m}");
}

#[test]
fn weights_holding_nan_or_infinity_are_refused_naming_the_tensor() {
    let (model, dir) = saved_tiny(Architecture::Llama, "nan-weights");
    let name = "model.layers.1.mlp.up_proj.weight";
    for (bad, shown) in [(f32::NAN, "NaN"), (f32::NEG_INFINITY, "-inf")] {
        let mut all: Vec<(String, Tensor)> = model.weights.iter().map(|(n, t)| (n.clone(), t.clone())).collect();
        let t = &model.weights[name];
        let mut data = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        data[77] = bad;
        all.retain(|(n, _)| n != name);
        // Stored as bf16, the way most checkpoints are: the conversion keeps it non-finite.
        all.push((name.into(), Tensor::from_vec(data, t.dims(), &candle_core::Device::Cpu).unwrap().to_dtype(DType::BF16).unwrap()));
        write_safetensors(&dir.join("model.safetensors"), all);
        let m = load_err(&dir);
        assert!(m.contains(&format!("tensor '{name}' holds {shown} (element 77")) && m.contains("model.safetensors"), "{m}");
    }
}

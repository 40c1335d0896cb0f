//! Saves a `LoadedModel` as a HuggingFace folder: config.json, model.safetensors,
//! tokenizer.json, tokenizer_config.json (with the chat template), generation_config.json.

use std::collections::HashMap;
use std::path::Path;

use serde_json::{json, Map, Value};

use super::hf_config::config_to_hf_json;
use super::{LoadedModel, Token};
use crate::error::{CoreError, ErrorCode, Result};
use crate::model::validate_weights;

pub fn save_model(dir: &Path, model: &LoadedModel) -> Result<()> {
    validate_weights(&model.config, &model.weights, "the model to save")?;
    std::fs::create_dir_all(dir).map_err(|e| write_error(dir, e))?;
    write_json(&dir.join("config.json"), &config_to_hf_json(&model.config))?;
    save_weights(&dir.join("model.safetensors"), model)?;
    write(&dir.join("tokenizer.json"), model.tokenizer.to_json()?)?;
    write_json(&dir.join("tokenizer_config.json"), &tokenizer_config(model))?;
    write_json(&dir.join("generation_config.json"), &generation_config(model))?;
    remove_stale_templates(dir)
}

/// Loaders prefer these files to tokenizer_config.json's template, so one left in `dir`
/// by an earlier save would silently replace the template just written.
fn remove_stale_templates(dir: &Path) -> Result<()> {
    for name in ["chat_template.jinja", "chat_template.json"] {
        let path = dir.join(name);
        if path.is_file() {
            std::fs::remove_file(&path).map_err(|e| write_error(&path, e))?;
        }
    }
    Ok(())
}

fn save_weights(path: &Path, model: &LoadedModel) -> Result<()> {
    let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
    let tensors: Vec<(&str, &candle_core::Tensor)> = model.weights.iter().map(|(k, t)| (k.as_str(), t)).collect();
    let bytes = safetensors::serialize(tensors, Some(metadata))
        .map_err(|e| CoreError::new(ErrorCode::InvalidArgument, format!("cannot serialize the weights for {} ({e})", path.display())))?;
    write(path, bytes)
}

fn tokenizer_config(model: &LoadedModel) -> Value {
    let s = &model.special_tokens;
    let text = |t: Option<&Token>| t.map(|t| json!(t.text)).unwrap_or(Value::Null);
    let mut v = json!({
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": model.config.max_position_embeddings,
        "clean_up_tokenization_spaces": false,
        "add_bos_token": false,
        "add_eos_token": false,
        "bos_token": text(s.bos.as_ref()),
        "eos_token": text(s.eos.first()),
        "pad_token": text(s.pad.as_ref()),
    });
    if let Some(template) = &model.chat_template {
        v["chat_template"] = json!(template);
    }
    v
}

fn generation_config(model: &LoadedModel) -> Value {
    let s = &model.special_tokens;
    let g = &model.generation;
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        if !v.is_null() {
            m.insert(k.to_string(), v);
        }
    };
    put("bos_token_id", json!(s.bos.as_ref().map(|t| t.id)));
    let eos: Vec<u32> = s.eos.iter().map(|t| t.id).collect();
    put("eos_token_id", if eos.len() == 1 { json!(eos[0]) } else if eos.is_empty() { Value::Null } else { json!(eos) });
    put("pad_token_id", json!(s.pad.as_ref().map(|t| t.id)));
    let samples = g.temperature.is_some() || g.top_p.is_some() || g.top_k.is_some();
    put("do_sample", if samples { json!(true) } else { Value::Null });
    put("temperature", json!(g.temperature));
    put("top_p", json!(g.top_p));
    put("top_k", json!(g.top_k));
    put("repetition_penalty", json!(g.repetition_penalty));
    put("max_new_tokens", json!(g.max_new_tokens));
    Value::Object(m)
}

fn write_json(path: &Path, v: &Value) -> Result<()> {
    write(path, serde_json::to_string_pretty(v).expect("JSON values serialize"))
}

fn write(path: &Path, contents: impl AsRef<[u8]>) -> Result<()> {
    std::fs::write(path, contents).map_err(|e| write_error(path, e))
}

fn write_error(path: &Path, e: std::io::Error) -> CoreError {
    CoreError::new(ErrorCode::InvalidArgument, format!("cannot write {} ({e}); check that the folder is writable", path.display()))
}

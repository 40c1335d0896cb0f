//! Loads a HuggingFace model folder as transformers 4.x and 5.x write it.

use std::path::Path;

use serde_json::Value;

use super::errors::{invalid, read_json, read_text};
use super::safetensors_weights::load_folder_weights;
use super::special_tokens::{token_text, SpecialTokenSources};
use super::{GenerationDefaults, LoadedModel};
use crate::error::Result;
use crate::model::config::token_ids;
use crate::model::ModelConfig;
use crate::tokenizer::TextTokenizer;

pub fn load_hf_folder(dir: &Path) -> Result<LoadedModel> {
    let config_path = dir.join("config.json");
    if !config_path.is_file() {
        return Err(invalid(format!("{} has no config.json; is it a HuggingFace model folder (save_pretrained output)?", dir.display())));
    }
    let config_source = config_path.display().to_string();
    let config = ModelConfig::from_hf_json(&read_text(&config_path)?, &config_source)?;
    let tokenizer = load_tokenizer(dir)?;
    if tokenizer.vocab_size() > config.vocab_size {
        return Err(invalid(format!(
            "{}/tokenizer.json has {} tokens but config.json has vocab_size {}; the embedding must have a row for every token",
            dir.display(),
            tokenizer.vocab_size(),
            config.vocab_size
        )));
    }
    let tokenizer_config = optional_json(&dir.join("tokenizer_config.json"))?;
    let generation_config = optional_json(&dir.join("generation_config.json"))?;
    let chat_template = chat_template(dir, tokenizer_config.as_ref())?;
    let generation = generation_config.as_ref().map(generation_defaults).unwrap_or_default();
    let special_tokens = special_token_sources(&config, tokenizer_config.as_ref(), generation_config.as_ref())
        .resolve(&tokenizer, &format!("the model in {}", dir.display()))?;
    let weights = load_folder_weights(dir, &config, &config_source)?;
    Ok(LoadedModel { config, weights, tokenizer, chat_template, special_tokens, generation })
}

pub fn load_tokenizer(dir: &Path) -> Result<TextTokenizer> {
    let path = dir.join("tokenizer.json");
    if !path.is_file() {
        return Err(invalid(format!(
            "{} has no tokenizer.json; save a fast tokenizer into it with tokenizer.save_pretrained(folder)",
            dir.display()
        )));
    }
    TextTokenizer::from_json(&read_text(&path)?, &path.display().to_string())
}

fn optional_json(path: &Path) -> Result<Option<Value>> {
    if path.is_file() {
        read_json(path).map(Some)
    } else {
        Ok(None)
    }
}

/// transformers 5 writes `chat_template.jinja`; 4.x writes the template into
/// tokenizer_config.json (a string, or a list of named templates) or chat_template.json.
fn chat_template(dir: &Path, tokenizer_config: Option<&Value>) -> Result<Option<String>> {
    let jinja = dir.join("chat_template.jinja");
    if jinja.is_file() {
        return read_text(&jinja).map(Some);
    }
    if let Some(template) = tokenizer_config.and_then(|c| template_field(c.get("chat_template"))) {
        return Ok(Some(template));
    }
    Ok(optional_json(&dir.join("chat_template.json"))?.and_then(|c| template_field(c.get("chat_template"))))
}

fn template_field(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Array(named) => {
            let by_name = |n: &str| named.iter().find(|t| t.get("name").and_then(Value::as_str) == Some(n));
            by_name("default").or_else(|| named.first())?.get("template")?.as_str().map(str::to_string)
        }
        _ => None,
    }
}

fn generation_defaults(v: &Value) -> GenerationDefaults {
    let float = |k: &str| v.get(k).and_then(Value::as_f64);
    let count = |k: &str| v.get(k).and_then(Value::as_u64).map(|n| n as usize);
    GenerationDefaults {
        temperature: float("temperature"),
        top_p: float("top_p"),
        top_k: count("top_k"),
        repetition_penalty: float("repetition_penalty"),
        max_new_tokens: count("max_new_tokens"),
    }
}

fn special_token_sources(config: &ModelConfig, tokenizer_config: Option<&Value>, generation: Option<&Value>) -> SpecialTokenSources {
    let tc = |k: &str| token_text(tokenizer_config.and_then(|c| c.get(k)));
    let gen = |k: &str| token_ids(generation.and_then(|g| g.get(k)));
    let mut eos_ids = gen("eos_token_id");
    eos_ids.extend(&config.eos_token_ids);
    let mut bos_ids = gen("bos_token_id");
    bos_ids.extend(config.bos_token_id);
    SpecialTokenSources {
        bos_text: tc("bos_token"),
        bos_ids,
        eos_texts: tc("eos_token").into_iter().collect(),
        eos_ids,
        pad_text: tc("pad_token"),
        pad_ids: gen("pad_token_id"),
    }
}

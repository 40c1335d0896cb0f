//! Loading and saving whole models: weights, configuration, tokenizer, chat template,
//! special tokens and generation defaults, from a HuggingFace folder or a GGUF file, and
//! back to a HuggingFace folder that Python `transformers` loads.

mod errors;
mod finite;
mod gguf;
mod gguf_export;
mod gguf_gpt2;
mod gguf_header;
mod gguf_metadata;
mod gguf_names;
mod gguf_tokenizer;
mod gguf_vocab;
mod gguf_write;
mod hf_config;
mod hf_folder;
mod hf_save;
mod safetensors_weights;
mod special_tokens;

use std::path::Path;

use crate::error::Result;
use crate::model::{ModelConfig, Weights};
use crate::tokenizer::TextTokenizer;

pub use gguf_export::{export_gguf, GgufExport, GgufType};
pub use hf_config::config_to_hf_json;
pub use hf_save::save_model;

/// A special token: its text and its id in the tokenizer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub text: String,
    pub id: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpecialTokens {
    pub bos: Option<Token>,
    /// Every token that ends a generation (end of turn, end of text), without duplicates.
    pub eos: Vec<Token>,
    pub pad: Option<Token>,
}

/// Sampling defaults the model's authors recommend (`generation_config.json`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GenerationDefaults {
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub top_k: Option<usize>,
    pub repetition_penalty: Option<f64>,
    pub max_new_tokens: Option<usize>,
}

/// Everything needed to run, train and save a model. Weights are f32 on the CPU, by
/// HuggingFace name, and validated against `config`.
#[derive(Debug, Clone)]
pub struct LoadedModel {
    pub config: ModelConfig,
    pub weights: Weights,
    pub tokenizer: TextTokenizer,
    pub chat_template: Option<String>,
    pub special_tokens: SpecialTokens,
    pub generation: GenerationDefaults,
}

impl LoadedModel {
    /// The tokens that end a generation by default: the special end-of-sequence tokens,
    /// then any other end-of-sequence id the config names.
    pub fn stop_token_ids(&self) -> Vec<u32> {
        let mut ids: Vec<u32> = self.special_tokens.eos.iter().map(|t| t.id).collect();
        for &id in &self.config.eos_token_ids {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        ids
    }
}

/// Loads a HuggingFace model folder or a `.gguf` file.
pub fn load_model(path: &Path) -> Result<LoadedModel> {
    if path.is_dir() {
        hf_folder::load_hf_folder(path)
    } else {
        gguf::load_gguf(existing_file(path)?)
    }
}

/// Loads only the tokenizer of a HuggingFace model folder or a `.gguf` file (fast: no weights).
pub fn load_tokenizer(path: &Path) -> Result<TextTokenizer> {
    if path.is_dir() {
        hf_folder::load_tokenizer(path)
    } else {
        gguf::load_gguf_tokenizer(existing_file(path)?)
    }
}

fn existing_file(path: &Path) -> Result<&Path> {
    if path.is_file() {
        return Ok(path);
    }
    Err(errors::invalid(format!(
        "{} does not exist; pass a HuggingFace model folder (config.json, model.safetensors, tokenizer.json) or a .gguf file",
        path.display()
    )))
}

#[cfg(test)]
mod hf_tests;
#[cfg(test)]
mod gguf_tests;
#[cfg(test)]
mod fixture_tests;
#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod gguf_export_tests;

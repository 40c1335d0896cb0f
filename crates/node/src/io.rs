//! Bindings of `rl_core::io` (loading and saving models) and `rl_core::tiny`.

use std::path::{Path, PathBuf};

use napi::bindgen_prelude::{AsyncTask, Uint32Array};
use napi::{Env, Task};
use napi_derive::napi;
use rl_core::io::{self as core_io, LoadedModel, Token};
use rl_core::model::Architecture;
use rl_core::tokenizer::TextTokenizer;
use rl_core::tiny::TinySize;
use rl_core::{CoreError, ErrorCode};

use crate::errors::to_napi;

#[napi(object)]
pub struct TokenInfo {
    pub text: String,
    pub id: u32,
}

#[napi(object)]
pub struct ModelConfigInfo {
    /// "gpt2" or "llama".
    pub architecture: String,
    pub vocab_size: u32,
    pub hidden_size: u32,
    pub num_layers: u32,
    pub num_heads: u32,
    pub num_kv_heads: u32,
    pub head_dim: u32,
    pub intermediate_size: u32,
    pub max_position_embeddings: u32,
    pub rope_theta: f64,
    pub tie_word_embeddings: bool,
    pub num_parameters: f64,
}

#[napi(object)]
pub struct GenerationInfo {
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub top_k: Option<u32>,
    pub repetition_penalty: Option<f64>,
    pub max_new_tokens: Option<u32>,
}

/// What a model folder or GGUF file holds, without its weights.
#[napi(object)]
pub struct ModelInfo {
    pub config: ModelConfigInfo,
    pub chat_template: Option<String>,
    pub bos: Option<TokenInfo>,
    pub eos: Vec<TokenInfo>,
    pub pad: Option<TokenInfo>,
    /// Every token that ends a generation by default (the eos tokens and the config's eos ids).
    pub stop_token_ids: Vec<u32>,
    pub generation: GenerationInfo,
    /// Number of tokens of the tokenizer, added tokens included.
    pub tokenizer_size: u32,
}

fn token_info(t: &Token) -> TokenInfo {
    TokenInfo { text: t.text.clone(), id: t.id }
}

pub(crate) fn model_info(m: &LoadedModel) -> ModelInfo {
    let c = &m.config;
    let g = &m.generation;
    let architecture = match c.architecture {
        Architecture::Gpt2 => "gpt2",
        Architecture::Llama => "llama",
    };
    ModelInfo {
        config: ModelConfigInfo {
            architecture: architecture.into(),
            vocab_size: c.vocab_size as u32,
            hidden_size: c.hidden_size as u32,
            num_layers: c.num_layers as u32,
            num_heads: c.num_heads as u32,
            num_kv_heads: c.num_kv_heads as u32,
            head_dim: c.head_dim as u32,
            intermediate_size: c.intermediate_size as u32,
            max_position_embeddings: c.max_position_embeddings as u32,
            rope_theta: c.rope_theta,
            tie_word_embeddings: c.tie_word_embeddings,
            num_parameters: c.num_parameters() as f64,
        },
        chat_template: m.chat_template.clone(),
        bos: m.special_tokens.bos.as_ref().map(token_info),
        eos: m.special_tokens.eos.iter().map(token_info).collect(),
        pad: m.special_tokens.pad.as_ref().map(token_info),
        stop_token_ids: m.stop_token_ids(),
        generation: generation_info(g),
        tokenizer_size: m.tokenizer.vocab_size() as u32,
    }
}

fn parse_architecture(arch: &str) -> napi::Result<Architecture> {
    match arch {
        "gpt2" => Ok(Architecture::Gpt2),
        "llama" => Ok(Architecture::Llama),
        other => Err(to_napi(CoreError::new(ErrorCode::InvalidArgument, format!("unknown architecture '{other}'; use 'gpt2' or 'llama'")))),
    }
}

/// The shape of a tiny model; missing fields keep the default (hidden 64, 2 layers, 4 heads).
#[napi(object)]
pub struct TinySizeArg {
    pub hidden_size: Option<u32>,
    pub num_layers: Option<u32>,
    pub num_heads: Option<u32>,
}

/// Writes a tiny random model (HuggingFace folder) into `out_dir` and describes it.
#[napi(catch_unwind)]
pub fn make_tiny_model(arch: String, out_dir: String, seed: Option<i64>, size: Option<TinySizeArg>, added_tokens: Option<Vec<String>>) -> napi::Result<ModelInfo> {
    let seed = seed.unwrap_or(0);
    if seed < 0 {
        return Err(to_napi(CoreError::new(ErrorCode::InvalidArgument, format!("seed must be a non-negative integer, got {seed}"))));
    }
    let default = TinySize::default();
    let size = size.map_or(default, |s| TinySize {
        hidden_size: s.hidden_size.map_or(default.hidden_size, |v| v as usize),
        num_layers: s.num_layers.map_or(default.num_layers, |v| v as usize),
        num_heads: s.num_heads.map_or(default.num_heads, |v| v as usize),
    });
    let added_tokens = added_tokens.unwrap_or_default();
    let model = rl_core::tiny::make_tiny_model_with_tokens(parse_architecture(&arch)?, seed as u64, size, &added_tokens).map_err(to_napi)?;
    core_io::save_model(Path::new(&out_dir), &model).map_err(to_napi)?;
    Ok(model_info(&model))
}

/// Loading reads every tensor (seconds for a real model), so it runs off the event loop.
pub struct LoadModelTask {
    path: PathBuf,
    /// Where to write the loaded model as a HuggingFace folder, if anywhere.
    save_to: Option<PathBuf>,
}

impl LoadModelTask {
    fn run(&self) -> rl_core::error::Result<ModelInfo> {
        let model = core_io::load_model(&self.path)?;
        if let Some(dir) = &self.save_to {
            core_io::save_model(dir, &model)?;
        }
        Ok(model_info(&model))
    }
}

impl Task for LoadModelTask {
    type Output = ModelInfo;
    type JsValue = ModelInfo;

    fn compute(&mut self) -> napi::Result<ModelInfo> {
        // A panic here would abort Node (DESIGN.md): turn it into an error.
        std::panic::catch_unwind(|| self.run())
            .map_err(|_| napi::Error::new(napi::Status::GenericFailure, format!("loading {} panicked", self.path.display())))?
            .map_err(to_napi)
    }

    fn resolve(&mut self, _env: Env, output: ModelInfo) -> napi::Result<ModelInfo> {
        Ok(output)
    }
}

/// Loads a HuggingFace folder or GGUF file (validating every tensor) and describes it.
#[napi]
pub fn inspect_model(path: String) -> AsyncTask<LoadModelTask> {
    AsyncTask::new(LoadModelTask { path: PathBuf::from(path), save_to: None })
}

/// Loads a HuggingFace folder or GGUF file and writes it as a HuggingFace folder
/// (f32 safetensors) that Python transformers loads.
#[napi]
pub fn convert_model(path: String, out_dir: String) -> AsyncTask<LoadModelTask> {
    AsyncTask::new(LoadModelTask { path: PathBuf::from(path), save_to: Some(PathBuf::from(out_dir)) })
}

/// The tokenizer of a model folder or GGUF file: encode adds no special tokens but
/// recognizes their text; decode keeps them.
#[napi]
pub struct Tokenizer {
    inner: TextTokenizer,
}

#[napi]
impl Tokenizer {
    #[napi(factory, catch_unwind)]
    pub fn load(path: String) -> napi::Result<Tokenizer> {
        Ok(Tokenizer { inner: core_io::load_tokenizer(Path::new(&path)).map_err(to_napi)? })
    }

    #[napi(catch_unwind)]
    pub fn encode(&self, text: String) -> napi::Result<Uint32Array> {
        Ok(Uint32Array::new(self.inner.encode(&text).map_err(to_napi)?))
    }

    #[napi(catch_unwind)]
    pub fn decode(&self, ids: &[u32]) -> napi::Result<String> {
        self.inner.decode(ids).map_err(to_napi)
    }

    #[napi(getter)]
    pub fn vocab_size(&self) -> u32 {
        self.inner.vocab_size() as u32
    }

    #[napi]
    pub fn token_to_id(&self, token: String) -> Option<u32> {
        self.inner.token_to_id(&token)
    }

    #[napi]
    pub fn id_to_token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }
}

/// A model's sampling defaults (generation_config.json) as JavaScript sees them.
pub fn generation_info(g: &rl_core::io::GenerationDefaults) -> GenerationInfo {
    GenerationInfo {
        temperature: g.temperature,
        top_p: g.top_p,
        top_k: g.top_k.map(|k| k as u32),
        repetition_penalty: g.repetition_penalty,
        max_new_tokens: g.max_new_tokens.map(|n| n as u32),
    }
}

//! The `Model` class: bindings of `rl_core::engine::Engine`. Loading, generation, scoring
//! and saving run as async tasks off the event loop, on the model's own thread pool when
//! `threads` was given; a panic inside them becomes a rejected promise.

use std::path::PathBuf;
use std::sync::Arc;

use napi::bindgen_prelude::{AsyncTask, Float32Array, Int32Array};
use napi::{Env, Task};
use napi_derive::napi;
use rl_core::engine::Engine;
use rl_core::generate::{Completion, FinishReason, GenerateOptions, SamplingParams};
use rl_core::score::{ScoreOptions, Scored};
use rl_core::{CoreError, ErrorCode};

use crate::errors::{guarded, to_napi};
use crate::train::{lora_source, NativeLoraOptions};
use rl_core::lora::LoraSource;

pub struct Shared {
    pub(crate) engine: Engine,
    pool: Option<rayon::ThreadPool>,
}

impl Shared {
    /// Runs `work` on the model's pool, turning core errors and panics into JS errors.
    pub(crate) fn run<T: Send>(&self, work: impl FnOnce(&Engine) -> rl_core::error::Result<T> + Send) -> napi::Result<T> {
        let engine = &self.engine;
        match &self.pool {
            Some(pool) => pool.install(|| guarded(|| work(engine))),
            None => guarded(|| work(engine)),
        }
    }
}

#[napi]
pub struct Model {
    pub(crate) shared: Arc<Shared>,
}

/// Where a model comes from.
pub enum Source {
    Path(PathBuf),
    /// Random weights for a config.json text (benchmarks), with the built-in tiny tokenizer.
    Random { config_json: String, seed: u64 },
}

pub struct LoadTask {
    source: Source,
    threads: Option<u32>,
    lora: Option<LoraSource>,
}

impl LoadTask {
    fn engine(&self) -> rl_core::error::Result<Engine> {
        match &self.source {
            Source::Path(path) => Engine::load(path, self.lora.as_ref()),
            Source::Random { config_json, seed } => Engine::random(config_json, *seed, self.lora.as_ref()),
        }
    }
}

impl Task for LoadTask {
    type Output = Shared;
    type JsValue = Model;

    fn compute(&mut self) -> napi::Result<Shared> {
        let pool = match self.threads {
            Some(n) => Some(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(n as usize)
                    .build()
                    .map_err(|e| to_napi(CoreError::new(ErrorCode::InvalidParameter, format!("cannot start {n} threads ({e}); ask for fewer"))))?,
            ),
            None => None,
        };
        let engine = guarded(|| self.engine())?;
        Ok(Shared { engine, pool })
    }

    fn resolve(&mut self, _env: Env, shared: Shared) -> napi::Result<Model> {
        Ok(Model { shared: Arc::new(shared) })
    }
}

/// Loads a HuggingFace folder or a GGUF file.
#[napi(catch_unwind, ts_return_type = "Promise<Model>")]
pub fn load_model(path: String, threads: Option<u32>, lora: Option<NativeLoraOptions>) -> AsyncTask<LoadTask> {
    AsyncTask::new(LoadTask { source: Source::Path(PathBuf::from(path)), threads, lora: lora.map(lora_source) })
}

/// A model with seeded random weights for any config.json (benchmarks need real shapes
/// without real weights); its tokenizer is the built-in tiny one.
#[napi(catch_unwind, ts_return_type = "Promise<Model>")]
pub fn random_model(config_json: String, seed: u32, threads: Option<u32>, lora: Option<NativeLoraOptions>) -> AsyncTask<LoadTask> {
    AsyncTask::new(LoadTask { source: Source::Random { config_json, seed: seed as u64 }, threads, lora: lora.map(lora_source) })
}

#[napi(object)]
pub struct NativeGenerateOptions {
    pub max_new_tokens: u32,
    pub temperature: f64,
    pub top_p: f64,
    pub top_k: u32,
    pub min_p: f64,
    pub repetition_penalty: f64,
    /// Absent: the model's end-of-sequence tokens.
    pub stop_token_ids: Option<Vec<u32>>,
    pub seed: i64,
    /// One seed per prompt (rows then draw independently of their batch); absent: (seed, row).
    pub seeds: Option<Vec<i64>>,
}

#[napi(object)]
pub struct NativeCompletion {
    pub tokens: Int32Array,
    pub logprobs: Float32Array,
    pub finish_reason: String,
}

#[napi(object)]
pub struct NativeScoreOptions {
    pub start: u32,
    pub temperature: f64,
    pub entropy: bool,
}

#[napi(object)]
pub struct NativeScored {
    pub logprobs: Float32Array,
    pub entropy: Option<Float32Array>,
}

pub struct GenerateTask {
    shared: Arc<Shared>,
    prompts: Vec<Vec<i32>>,
    options: GenerateOptions,
}

impl Task for GenerateTask {
    type Output = Vec<Completion>;
    type JsValue = Vec<NativeCompletion>;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let prompts: Vec<&[i32]> = self.prompts.iter().map(Vec::as_slice).collect();
        self.shared.run(|engine| engine.generate(&prompts, &self.options))
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        Ok(output
            .into_iter()
            .map(|c| NativeCompletion {
                tokens: Int32Array::new(c.tokens.into_iter().map(|t| t as i32).collect()),
                logprobs: Float32Array::new(c.logprobs),
                finish_reason: match c.finish_reason {
                    FinishReason::Stop => "stop".into(),
                    FinishReason::Length => "length".into(),
                },
            })
            .collect())
    }
}

pub struct ScoreTask {
    shared: Arc<Shared>,
    sequences: Vec<Vec<i32>>,
    options: ScoreOptions,
}

impl Task for ScoreTask {
    type Output = Vec<Scored>;
    type JsValue = Vec<NativeScored>;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let sequences: Vec<&[i32]> = self.sequences.iter().map(Vec::as_slice).collect();
        self.shared.run(|engine| engine.score(&sequences, &self.options))
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        Ok(output
            .into_iter()
            .map(|s| NativeScored { logprobs: Float32Array::new(s.logprobs), entropy: s.entropy.map(Float32Array::new) })
            .collect())
    }
}

pub struct SaveTask {
    shared: Arc<Shared>,
    dir: PathBuf,
}

impl Task for SaveTask {
    type Output = ();
    type JsValue = ();

    fn compute(&mut self) -> napi::Result<()> {
        self.shared.run(|engine| engine.save(&self.dir))
    }

    fn resolve(&mut self, _env: Env, _output: ()) -> napi::Result<()> {
        Ok(())
    }
}

/// Tokenizes on a libuv worker thread: a long text (about 1.5 s per MiB with a BPE
/// tokenizer) would otherwise stall the event loop and every request a server is handling.
pub struct TokenizeTask {
    shared: Arc<Shared>,
    text: String,
}

impl Task for TokenizeTask {
    type Output = Vec<u32>;
    type JsValue = Int32Array;

    fn compute(&mut self) -> napi::Result<Vec<u32>> {
        guarded(|| self.shared.engine.model.tokenizer.encode(&self.text))
    }

    fn resolve(&mut self, _env: Env, ids: Vec<u32>) -> napi::Result<Int32Array> {
        Ok(Int32Array::new(ids.into_iter().map(|t| t as i32).collect()))
    }
}

fn copy_all(arrays: Vec<Int32Array>) -> Vec<Vec<i32>> {
    arrays.iter().map(|a| a.to_vec()).collect()
}

#[napi]
impl Model {
    #[napi(catch_unwind)]
    pub fn config(&self) -> crate::io::ModelInfo {
        crate::io::model_info(&self.shared.engine.model)
    }

    /// Text to token ids; special-token strings in the text become their ids.
    #[napi(catch_unwind)]
    pub fn tokenize(&self, text: String) -> napi::Result<Int32Array> {
        let ids = self.shared.engine.model.tokenizer.encode(&text).map_err(to_napi)?;
        Ok(Int32Array::new(ids.into_iter().map(|t| t as i32).collect()))
    }

    /// `tokenize` off the event loop.
    #[napi(catch_unwind, ts_return_type = "Promise<Int32Array>")]
    pub fn tokenize_async(&self, text: String) -> AsyncTask<TokenizeTask> {
        AsyncTask::new(TokenizeTask { shared: self.shared.clone(), text })
    }

    #[napi(catch_unwind)]
    pub fn detokenize(&self, ids: &[i32]) -> napi::Result<String> {
        let engine = &self.shared.engine;
        let ids = rl_core::model::tokens::checked_token_ids(&[ids], engine.model.config.vocab_size, "the id list").map_err(to_napi)?;
        engine.model.tokenizer.decode(&ids[0]).map_err(to_napi)
    }

    #[napi(catch_unwind, ts_return_type = "Promise<NativeCompletion[]>")]
    pub fn generate(&self, prompts: Vec<Int32Array>, options: NativeGenerateOptions) -> AsyncTask<GenerateTask> {
        let options = GenerateOptions {
            max_new_tokens: options.max_new_tokens as usize,
            sampling: SamplingParams {
                temperature: options.temperature,
                top_p: options.top_p,
                top_k: options.top_k as usize,
                min_p: options.min_p,
                repetition_penalty: options.repetition_penalty,
            },
            stop_token_ids: options.stop_token_ids.unwrap_or_else(|| self.shared.engine.stop_token_ids()),
            seed: options.seed as u64,
            row_seeds: options.seeds.map(|seeds| seeds.into_iter().map(|s| s as u64).collect()),
        };
        AsyncTask::new(GenerateTask { shared: self.shared.clone(), prompts: copy_all(prompts), options })
    }

    #[napi(catch_unwind, ts_return_type = "Promise<NativeScored[]>")]
    pub fn score(&self, sequences: Vec<Int32Array>, options: NativeScoreOptions) -> AsyncTask<ScoreTask> {
        let options = ScoreOptions { start: options.start as usize, temperature: options.temperature, entropy: options.entropy };
        AsyncTask::new(ScoreTask { shared: self.shared.clone(), sequences: copy_all(sequences), options })
    }

    /// Writes a HuggingFace folder (config, safetensors, tokenizer, chat template).
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn save(&self, dir: String) -> AsyncTask<SaveTask> {
        AsyncTask::new(SaveTask { shared: self.shared.clone(), dir: PathBuf::from(dir) })
    }
}

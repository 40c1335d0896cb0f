//! A loaded model ready to run: its trainable parameters, an inference decoder over
//! them, and everything else a caller needs (tokenizer, special tokens, chat template).
//! The JavaScript `Model` class is a thin binding of this type.

use std::path::Path;

use crate::error::{CoreError, ErrorCode, Result};
use crate::generate::{generate, Completion, GenerateOptions};
use crate::io::{load_model, save_model, LoadedModel};
use crate::model::tokens::checked_token_ids;
use crate::model::{random_weights, Decoder, ModelConfig, Params, Weights};
use crate::score::{score, ScoreOptions, Scored};
use crate::lora::{Lora, LoraSource};
use crate::tiny::tiny_tokenizer;
use crate::train::TrainingState;

pub struct Engine {
    /// Configuration, tokenizer and metadata; its `weights` are empty (they live in `params`).
    pub model: LoadedModel,
    params: Params,
    /// Shares the parameters' storage and builds no graph.
    decoder: Decoder,
    /// LoRA adapters, when only they train.
    pub(crate) lora: Option<Lora>,
    /// The optimizer, once training has started.
    pub(crate) training: TrainingState,
}

impl Engine {
    pub fn new(model: LoadedModel) -> Result<Self> {
        Engine::with_lora(model, None)
    }

    /// With LoRA adapters (fresh or saved), only the adapters train; inference reads the
    /// merged weights.
    pub fn with_lora(mut model: LoadedModel, lora: Option<&LoraSource>) -> Result<Self> {
        let params = Params::new(&model.weights)?;
        model.weights = Weights::new();
        let lora = match lora {
            None => None,
            Some(LoraSource::Fresh(config)) => Some(Lora::new(config.clone(), &model.config, &params)?),
            Some(LoraSource::Saved(dir)) => Some(Lora::load(dir, &model.config, &params)?),
        };
        let inference = lora.as_ref().map_or_else(|| Ok(params.detached()), |l| l.inference_weights(&params))?;
        let decoder = Decoder::new(&model.config, &inference)?;
        Ok(Engine { model, params, decoder, lora, training: TrainingState::default() })
    }

    /// Loads a HuggingFace folder or a GGUF file.
    pub fn load(path: &Path, lora: Option<&LoraSource>) -> Result<Self> {
        Engine::with_lora(load_model(path)?, lora)
    }

    /// Seeded random weights for a HuggingFace config.json text, with the built-in tiny
    /// tokenizer: real shapes without real weights (benchmarks).
    pub fn random(config_json: &str, seed: u64, lora: Option<&LoraSource>) -> Result<Self> {
        let config = ModelConfig::from_hf_json(config_json, "the random model's config")?;
        Engine::with_lora(LoadedModel {
            weights: random_weights(&config, seed)?,
            config,
            tokenizer: tiny_tokenizer()?,
            chat_template: None,
            special_tokens: Default::default(),
            generation: Default::default(),
        }, lora)
    }

    pub fn params(&self) -> &Params {
        &self.params
    }

    pub fn decoder(&self) -> &Decoder {
        &self.decoder
    }

    /// The tokens that end a generation by default: the tokenizer's end tokens and the
    /// config's `eos_token_id`s.
    pub fn stop_token_ids(&self) -> Vec<u32> {
        self.model.stop_token_ids()
    }

    pub fn generate(&self, prompts: &[&[i32]], options: &GenerateOptions) -> Result<Vec<Completion>> {
        let vocab = self.model.config.vocab_size;
        let prompts = checked_token_ids(prompts, vocab, "prompt")?;
        if let Some(bad) = options.stop_token_ids.iter().find(|&&t| t as usize >= vocab) {
            return Err(CoreError::new(ErrorCode::InvalidToken, format!("stopTokenIds holds {bad}, outside the model's vocabulary [0, {vocab})")));
        }
        on_workers(|| generate(&self.decoder, &prompts, options))
    }

    pub fn score(&self, sequences: &[&[i32]], options: &ScoreOptions) -> Result<Vec<Scored>> {
        let sequences = checked_token_ids(sequences, self.model.config.vocab_size, "sequence")?;
        on_workers(|| score(&self.decoder, &sequences, options))
    }

    /// The model with its current parameters, LoRA adapters merged: what `save` writes and
    /// what a GGUF export holds.
    pub fn merged_model(&self) -> Result<LoadedModel> {
        let weights = self.lora.as_ref().map_or_else(|| Ok(self.params.detached()), |l| l.inference_weights(&self.params))?;
        Ok(LoadedModel { weights, ..self.model.clone() })
    }

    /// Writes a HuggingFace folder with the current parameters (LoRA adapters merged).
    pub fn save(&self, dir: &Path) -> Result<()> {
        save_model(dir, &self.merged_model()?)
    }
}

/// Runs `work` on one of rayon's worker threads. Each parallel loop started from outside
/// the pool hands its work to a worker and sleeps until it is done (a futex round trip);
/// a decode step runs hundreds of small loops, and from a worker they cost almost nothing.
pub(crate) fn on_workers<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    // Tests' reference switch is per thread: it follows the work to the worker.
    #[cfg(test)]
    if crate::model::layers::reference_path() {
        return rayon::scope(|_| crate::model::layers::with_reference_path(work));
    }
    rayon::scope(|_| work())
}

//! Bindings of `Engine::train_step` as `Model.trainStep`: the batch's typed arrays are
//! copied on the JavaScript thread, the step runs as an async task on the model's pool.
//! Metric names stay snake_case, as they appear in training logs.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use napi::bindgen_prelude::{AsyncTask, Float32Array, Int32Array, Uint8Array};
use napi::{Env, Task};
use napi_derive::napi;
use rl_core::engine::Engine;
use rl_core::lora::{LoraConfig, LoraSource};
use rl_core::optim::AdamWConfig;
use rl_core::train::{BatchAdvantages, TrainBatch, TrainConfig, TrainMetrics};

use crate::errors::to_napi;
use crate::loss::{PolicyLossConfig, PolicyLossMetrics};
use crate::model::{Model, Shared};

/// Either a saved adapter folder, or rank and alpha (and optionally targets and seed) of
/// fresh adapters; `src/model/train.ts` checks which.
#[napi(object)]
pub struct NativeLoraOptions {
    pub adapter: Option<String>,
    pub rank: Option<u32>,
    pub alpha: Option<f64>,
    pub target_modules: Option<Vec<String>>,
    pub seed: Option<u32>,
}

pub fn lora_source(options: NativeLoraOptions) -> LoraSource {
    match options.adapter {
        Some(dir) => LoraSource::Saved(PathBuf::from(dir)),
        None => LoraSource::Fresh(LoraConfig {
            rank: options.rank.unwrap_or(0) as usize,
            alpha: options.alpha.unwrap_or(f64::NAN),
            target_modules: options.target_modules.unwrap_or_default(),
            seed: options.seed.unwrap_or(0) as u64,
        }),
    }
}

/// `src/model/train.ts` splits `advantages` by kind.
#[napi(object)]
pub struct NativeTrainBatch {
    pub sequences: Vec<Int32Array>,
    pub masks: Vec<Uint8Array>,
    pub old_logprobs: Option<Vec<Float32Array>>,
    pub advantages_per_sequence: Option<Float32Array>,
    pub advantages_per_token: Option<Vec<Float32Array>>,
    pub ref_logprobs: Option<Vec<Float32Array>>,
}

/// Every field filled: `src/model/train.ts` applies the defaults.
#[napi(object)]
pub struct NativeTrainConfig {
    pub loss: PolicyLossConfig,
    pub learning_rate: f64,
    pub micro_batch_size: u32,
    pub max_grad_norm: f64,
    pub temperature: f64,
    pub weight_decay: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub activation_checkpointing: bool,
}

/// A step's metrics; `src/model/model.ts` flattens `policy` into them.
#[napi(object)]
pub struct NativeTrainMetrics {
    pub loss: f64,
    pub policy: PolicyLossMetrics,
    pub entropy: f64,
    #[napi(js_name = "grad_norm")]
    pub grad_norm: f64,
    pub lr: f64,
    pub skipped: bool,
    #[napi(js_name = "skipped_steps")]
    pub skipped_steps: f64,
    pub step: f64,
    /// Seconds by phase, when the layer-wise engine ran the step.
    pub phases: Option<NativePhases>,
}

#[napi(object)]
pub struct NativePhases {
    #[napi(js_name = "forward_s")]
    pub forward_s: f64,
    #[napi(js_name = "head_s")]
    pub head_s: f64,
    #[napi(js_name = "backward_s")]
    pub backward_s: f64,
    #[napi(js_name = "optimizer_s")]
    pub optimizer_s: f64,
    #[napi(js_name = "other_s")]
    pub other_s: f64,
}

/// Owned copies of JS typed arrays (the batch outlives the call: it runs off the event loop).
pub(crate) fn copy<T: Copy>(arrays: &[impl std::ops::Deref<Target = [T]>]) -> Vec<Vec<T>> {
    arrays.iter().map(|a| a.to_vec()).collect()
}

impl NativeTrainBatch {
    fn to_core(&self) -> TrainBatch {
        let advantages = match (&self.advantages_per_sequence, &self.advantages_per_token) {
            (Some(a), _) => Some(BatchAdvantages::PerSequence(a.to_vec())),
            (None, Some(a)) => Some(BatchAdvantages::PerToken(copy(a))),
            (None, None) => None,
        };
        TrainBatch {
            sequences: copy(&self.sequences),
            masks: copy(&self.masks),
            old_logprobs: self.old_logprobs.as_deref().map(copy),
            advantages,
            ref_logprobs: self.ref_logprobs.as_deref().map(copy),
        }
    }
}

impl NativeTrainConfig {
    fn to_core(&self) -> rl_core::error::Result<TrainConfig> {
        Ok(TrainConfig {
            loss: self.loss.to_core()?,
            learning_rate: self.learning_rate,
            micro_batch_size: self.micro_batch_size as usize,
            temperature: self.temperature,
            optimizer: AdamWConfig {
                beta1: self.beta1,
                beta2: self.beta2,
                eps: self.eps,
                weight_decay: self.weight_decay,
                max_grad_norm: Some(self.max_grad_norm),
                ..AdamWConfig::default()
            },
            activation_checkpointing: self.activation_checkpointing,
        })
    }
}

fn to_js(m: TrainMetrics) -> NativeTrainMetrics {
    NativeTrainMetrics {
        loss: m.loss,
        policy: m.policy.into(),
        entropy: m.entropy,
        grad_norm: m.grad_norm,
        lr: m.lr,
        skipped: m.skipped,
        skipped_steps: m.skipped_steps as f64,
        step: m.steps as f64,
        phases: m.phases.map(|p| NativePhases { forward_s: p.forward_s, head_s: p.head_s, backward_s: p.backward_s, optimizer_s: p.optimizer_s, other_s: p.other_s }),
    }
}

pub struct TrainStepTask {
    shared: Arc<Shared>,
    batch: TrainBatch,
    config: TrainConfig,
}

impl Task for TrainStepTask {
    type Output = TrainMetrics;
    type JsValue = NativeTrainMetrics;

    fn compute(&mut self) -> napi::Result<TrainMetrics> {
        let metrics = self.shared.run(|engine| engine.train_step(&self.batch, &self.config));
        crate::allocator::release_free_memory();
        metrics
    }

    fn resolve(&mut self, _env: Env, metrics: TrainMetrics) -> napi::Result<NativeTrainMetrics> {
        Ok(to_js(metrics))
    }
}

/// Saves or restores training state (or adapters) in a folder.
pub struct FolderTask {
    shared: Arc<Shared>,
    dir: PathBuf,
    op: FolderOp,
}

type FolderOp = Box<dyn Fn(&Engine, &Path) -> rl_core::error::Result<()> + Send + Sync>;

impl Task for FolderTask {
    type Output = ();
    type JsValue = ();

    fn compute(&mut self) -> napi::Result<()> {
        self.shared.run(|engine| (self.op)(engine, &self.dir))
    }

    fn resolve(&mut self, _env: Env, _output: ()) -> napi::Result<()> {
        Ok(())
    }
}

#[napi]
impl Model {
    /// One optimizer step over `batch`; the weights generation and scoring use change with it.
    #[napi(catch_unwind, ts_return_type = "Promise<NativeTrainMetrics>")]
    pub fn train_step(&self, batch: NativeTrainBatch, config: NativeTrainConfig) -> napi::Result<AsyncTask<TrainStepTask>> {
        let config = config.to_core().map_err(to_napi)?;
        Ok(AsyncTask::new(TrainStepTask { shared: self.shared.clone(), batch: batch.to_core(), config }))
    }

    fn folder_task(&self, dir: String, op: FolderOp) -> AsyncTask<FolderTask> {
        AsyncTask::new(FolderTask { shared: self.shared.clone(), dir: PathBuf::from(dir), op })
    }

    /// Writes the optimizer's moments and step counters (and the LoRA adapters, if any).
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn save_training_state(&self, dir: String) -> AsyncTask<FolderTask> {
        self.folder_task(dir, Box::new(Engine::save_training_state))
    }

    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn load_training_state(&self, dir: String) -> AsyncTask<FolderTask> {
        self.folder_task(dir, Box::new(Engine::load_training_state))
    }

    /// Writes the LoRA adapters in the PEFT layout.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn save_adapter(&self, dir: String, base_model: Option<String>) -> AsyncTask<FolderTask> {
        self.folder_task(dir, Box::new(move |engine, dir| engine.save_adapter(dir, base_model.as_deref())))
    }
}

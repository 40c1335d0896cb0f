//! Bindings of `rl_core::critic` as the `Critic` class, made by `Model.createCritic`: the
//! critic's values, training step and state run as async tasks on the policy model's pool.
//! Metric names stay snake_case, as they appear in training logs.

use std::path::PathBuf;
use std::sync::Arc;

use napi::bindgen_prelude::{AsyncTask, Float32Array, Int32Array, Uint8Array};
use napi::{Env, Task};
use napi_derive::napi;
use rl_core::critic::{Critic as CoreCritic, CriticMetrics, CriticTrainConfig, ValueBatch};
use rl_core::optim::AdamWConfig;

use crate::model::{Model, Shared};
use crate::train::copy;

#[napi]
pub struct Critic {
    /// The policy model: its pool runs the critic's work.
    shared: Arc<Shared>,
    critic: Arc<CoreCritic>,
}

/// What a critic is made of, for memory checks.
#[napi(object)]
pub struct NativeCriticInfo {
    pub lora: bool,
    /// Numbers the critic's optimizer updates (trunk or adapters, and the head).
    pub trainable_parameters: f64,
    /// Whether the trunk is the policy's own base tensors (no copy).
    pub shares_policy_base: bool,
}

#[napi(object)]
pub struct NativeValueBatch {
    pub sequences: Vec<Int32Array>,
    pub masks: Vec<Uint8Array>,
    pub returns: Vec<Float32Array>,
    pub old_values: Option<Vec<Float32Array>>,
}

/// Every field filled: `src/model/critic.ts` applies the defaults.
#[napi(object)]
pub struct NativeCriticConfig {
    pub learning_rate: f64,
    pub micro_batch_size: u32,
    pub value_clip: Option<f64>,
    pub max_grad_norm: f64,
    pub weight_decay: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub activation_checkpointing: bool,
}

#[napi(object)]
pub struct NativeCriticMetrics {
    #[napi(js_name = "value_loss")]
    pub value_loss: f64,
    #[napi(js_name = "value_clip_frac")]
    pub value_clip_frac: f64,
    #[napi(js_name = "value_mean")]
    pub value_mean: f64,
    #[napi(js_name = "return_mean")]
    pub return_mean: f64,
    #[napi(js_name = "grad_norm")]
    pub grad_norm: f64,
    pub lr: f64,
    pub skipped: bool,
    #[napi(js_name = "skipped_steps")]
    pub skipped_steps: f64,
    pub step: f64,
    pub tokens: u32,
}

pub struct CreateCriticTask {
    shared: Arc<Shared>,
    seed: u64,
}

impl Task for CreateCriticTask {
    type Output = CoreCritic;
    type JsValue = Critic;

    fn compute(&mut self) -> napi::Result<CoreCritic> {
        self.shared.run(|engine| CoreCritic::new(engine, self.seed))
    }

    fn resolve(&mut self, _env: Env, critic: CoreCritic) -> napi::Result<Critic> {
        Ok(Critic { shared: self.shared.clone(), critic: Arc::new(critic) })
    }
}

/// Runs one operation of a critic on the policy's pool.
pub struct CriticTask<T: Send + 'static, J> {
    shared: Arc<Shared>,
    critic: Arc<CoreCritic>,
    op: Box<dyn Fn(&CoreCritic) -> rl_core::error::Result<T> + Send + Sync>,
    to_js: fn(T) -> J,
}

impl<T: Send + 'static, J: napi::bindgen_prelude::ToNapiValue + napi::bindgen_prelude::TypeName> Task for CriticTask<T, J> {
    type Output = T;
    type JsValue = J;

    fn compute(&mut self) -> napi::Result<T> {
        let out = self.shared.run(|_| (self.op)(&self.critic));
        crate::allocator::release_free_memory();
        out
    }

    fn resolve(&mut self, _env: Env, output: T) -> napi::Result<J> {
        Ok((self.to_js)(output))
    }
}

#[napi]
impl Model {
    /// A critic of this model's architecture from its current weights: a trainable copy, or
    /// (when this model trains LoRA) new adapters on this model's own frozen base.
    #[napi(catch_unwind, ts_return_type = "Promise<Critic>")]
    pub fn create_critic(&self, seed: u32) -> AsyncTask<CreateCriticTask> {
        AsyncTask::new(CreateCriticTask { shared: self.shared.clone(), seed: seed as u64 })
    }
}

#[napi]
impl Critic {
    fn task<T: Send + 'static, J>(&self, op: impl Fn(&CoreCritic) -> rl_core::error::Result<T> + Send + Sync + 'static, to_js: fn(T) -> J) -> AsyncTask<CriticTask<T, J>>
    where
        J: napi::bindgen_prelude::ToNapiValue + napi::bindgen_prelude::TypeName,
    {
        AsyncTask::new(CriticTask { shared: self.shared.clone(), critic: self.critic.clone(), op: Box::new(op), to_js })
    }

    #[napi(catch_unwind)]
    pub fn info(&self) -> NativeCriticInfo {
        NativeCriticInfo {
            lora: self.critic.uses_lora(),
            trainable_parameters: self.critic.trainable_parameters() as f64,
            shares_policy_base: self.critic.shares_base_with(&self.shared.engine),
        }
    }

    /// V of the state before each token from `start` on, per sequence.
    #[napi(catch_unwind, ts_return_type = "Promise<Float32Array[]>")]
    pub fn values(&self, sequences: Vec<Int32Array>, start: u32) -> AsyncTask<CriticTask<Vec<Vec<f32>>, Vec<Float32Array>>> {
        let sequences = copy(&sequences);
        self.task(
            move |critic| critic.values(&sequences.iter().map(Vec::as_slice).collect::<Vec<_>>(), start as usize),
            |values| values.into_iter().map(Float32Array::new).collect(),
        )
    }

    /// One optimizer step of the clipped value loss over `batch`.
    #[napi(catch_unwind, ts_return_type = "Promise<NativeCriticMetrics>")]
    pub fn train_step(&self, batch: NativeValueBatch, config: NativeCriticConfig) -> AsyncTask<CriticTask<CriticMetrics, NativeCriticMetrics>> {
        let batch = ValueBatch {
            sequences: copy(&batch.sequences),
            masks: copy(&batch.masks),
            returns: copy(&batch.returns),
            old_values: batch.old_values.as_deref().map(copy),
        };
        let config = CriticTrainConfig {
            learning_rate: config.learning_rate,
            micro_batch_size: config.micro_batch_size as usize,
            value_clip: config.value_clip,
            optimizer: AdamWConfig {
                beta1: config.beta1,
                beta2: config.beta2,
                eps: config.eps,
                weight_decay: config.weight_decay,
                max_grad_norm: Some(config.max_grad_norm),
                ..AdamWConfig::default()
            },
            activation_checkpointing: config.activation_checkpointing,
        };
        self.task(move |critic| critic.train_step(&batch, &config), to_js)
    }

    /// Writes the head, the trunk (or adapters) and the optimizer into `dir`.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn save(&self, dir: String) -> AsyncTask<CriticTask<(), ()>> {
        let dir = PathBuf::from(dir);
        self.task(move |critic| critic.save(&dir), |()| ())
    }

    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn load(&self, dir: String) -> AsyncTask<CriticTask<(), ()>> {
        let dir = PathBuf::from(dir);
        self.task(move |critic| critic.load(&dir), |()| ())
    }
}

fn to_js(m: CriticMetrics) -> NativeCriticMetrics {
    NativeCriticMetrics {
        value_loss: m.value_loss,
        value_clip_frac: m.value_clip_frac,
        value_mean: m.value_mean,
        return_mean: m.return_mean,
        grad_norm: m.grad_norm,
        lr: m.lr,
        skipped: m.skipped,
        skipped_steps: m.skipped_steps as f64,
        step: m.steps as f64,
        tokens: m.tokens as u32,
    }
}

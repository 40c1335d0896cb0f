//! `Engine::train_step`: one optimizer step over a batch.

use std::time::Instant;

use super::gradients::batch_gradients;
use super::{TrainBatch, TrainConfig, TrainMetrics};
use crate::engine::on_workers;
use crate::engine::Engine;
use crate::error::Result;
use crate::layerwise;
use crate::model::Decoder;
use crate::optim::{AdamW, Param, StepReport};

impl Engine {
    /// The variables the optimizer updates: the LoRA adapters, or every weight of the model.
    pub fn trainable_params(&self) -> Vec<Param> {
        if let Some(lora) = &self.lora {
            return lora.params();
        }
        self.params().optimizer_params(&self.model.config, |_| false)
    }

    /// Forward and backward over `batch` (micro-batched, gradients accumulated with the
    /// whole batch's normalizers), then global-norm clipping and an AdamW step. A step whose
    /// log-probs, loss or gradient are not finite is skipped: counted, reported, weights unchanged.
    pub fn train_step(&self, batch: &TrainBatch, config: &TrainConfig) -> Result<TrainMetrics> {
        on_workers(|| self.step_on_workers(batch, config))
    }

    fn step_on_workers(&self, batch: &TrainBatch, config: &TrainConfig) -> Result<TrainMetrics> {
        let started = Instant::now();
        config.validate()?;
        let samples = batch.samples(self.model.config.vocab_size)?;
        let mut guard = self.training.lock();
        let optimizer = match guard.as_mut() {
            Some(o) => {
                o.config = config.optimizer.clone();
                o
            }
            None => guard.insert(AdamW::new(self.trainable_params(), config.optimizer.clone())?),
        };
        let (grads, summary) = if layerwise::train::applies(self.params()) {
            layerwise::train::batch_gradients(self.params(), self.lora.as_ref(), &self.model.config, &samples, config)?
        } else {
            let weights = match &self.lora {
                Some(lora) => lora.training_weights(self.params())?,
                None => self.params().tracked(),
            };
            let decoder = Decoder::new(&self.model.config, &weights)?;
            let vars: Vec<_> = optimizer.params().iter().map(|p| p.var.clone()).collect();
            batch_gradients(&decoder, &samples, config, &vars)?
        };
        let optimizer_started = Instant::now();
        let report = if summary.loss().is_finite() {
            // Dropped before (the step may fail halfway) and after (nothing reads stale copies).
            self.decoder().weights_changed();
            let report = optimizer.step(&grads, config.learning_rate)?;
            if let Some(lora) = &self.lora {
                lora.refresh(self.params())?;
            }
            self.decoder().weights_changed();
            report
        } else {
            optimizer.skipped_steps += 1;
            StepReport { grad_norm: f64::NAN, clipped: false, skipped: true }
        };
        let optimizer_s = optimizer_started.elapsed().as_secs_f64();
        Ok(summary.finish(report, config.learning_rate, optimizer.skipped_steps(), optimizer.steps(), optimizer_s, started.elapsed().as_secs_f64()))
    }
}

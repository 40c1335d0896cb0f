//! `Critic::train_step`: one optimizer step of the clipped value loss over a batch,
//! micro-batched (gradients accumulate with the whole batch's token count, so the split
//! does not change them), with global-norm clipping and the critic's own AdamW.

use candle_core::backprop::GradStore;
use candle_core::{DType, Device, Tensor, Var};

use super::batch::{ValueBatch, ValueSample};
use super::head::ValueHead;
use super::loss::{compute_value_loss, ValueLossInput};
use super::Critic;
use crate::error::{check_range, CoreError, ErrorCode, Result};
use crate::model::Decoder;
use crate::optim::{AdamW, AdamWConfig, StepReport};
use crate::train::gradients::{decoder_backward, Accumulator};

#[derive(Debug, Clone, PartialEq)]
pub struct CriticTrainConfig {
    pub learning_rate: f64,
    /// Sequences per forward / backward pass; gradients accumulate over the whole batch.
    pub micro_batch_size: usize,
    /// vfClip: a prediction may move at most this far from its old value before the clipped
    /// term takes over; `None` trains on the plain squared error.
    pub value_clip: Option<f64>,
    /// Weight decay, betas, eps and the clipping norm.
    pub optimizer: AdamWConfig,
    pub activation_checkpointing: bool,
}

impl CriticTrainConfig {
    pub fn new(learning_rate: f64) -> Self {
        CriticTrainConfig { learning_rate, micro_batch_size: 8, value_clip: None, optimizer: AdamWConfig::default(), activation_checkpointing: false }
    }

    pub fn validate(&self) -> Result<()> {
        check_range("learningRate", self.learning_rate, 0.0, 1e3)?;
        if self.micro_batch_size == 0 {
            return Err(CoreError::new(ErrorCode::InvalidParameter, "microBatchSize must be a positive integer, got 0"));
        }
        if let Some(c) = self.value_clip {
            if !(c.is_finite() && c > 0.0) {
                return Err(CoreError::new(ErrorCode::InvalidParameter, format!("vfClip must be a finite number > 0, got {c}")));
            }
        }
        self.optimizer.validate()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CriticMetrics {
    /// The batch's value loss (before the update).
    pub value_loss: f64,
    /// Fraction of loss tokens whose clipped term was the larger (no gradient).
    pub value_clip_frac: f64,
    /// Mean prediction and mean return over the loss tokens.
    pub value_mean: f64,
    pub return_mean: f64,
    pub grad_norm: f64,
    pub lr: f64,
    /// The loss or gradient was not finite: the weights are unchanged.
    pub skipped: bool,
    pub skipped_steps: u64,
    pub steps: u64,
    pub tokens: usize,
}

impl Critic {
    pub fn train_step(&self, batch: &ValueBatch, config: &CriticTrainConfig) -> Result<CriticMetrics> {
        config.validate()?;
        let samples = batch.samples(self.config.vocab_size)?;
        if config.value_clip.is_some() && batch.old_values.is_none() {
            return Err(CoreError::new(ErrorCode::InvalidArgument, "oldValues is required by vfClip; pass the values the rollout was scored with"));
        }
        let mut guard = self.optimizer();
        let optimizer = match guard.as_mut() {
            Some(o) => {
                o.config = config.optimizer.clone();
                o
            }
            None => guard.insert(AdamW::new(self.params(), config.optimizer.clone())?),
        };
        let decoder = self.decoder(true)?;
        let vars: Vec<Var> = optimizer.params().iter().map(|p| p.var.clone()).collect();
        let (grads, sums) = value_gradients(&decoder, &self.head, &samples, config, &vars)?;
        let report = if sums.loss.is_finite() {
            optimizer.step(&grads, config.learning_rate)?
        } else {
            optimizer.skipped_steps += 1;
            StepReport { grad_norm: f64::NAN, clipped: false, skipped: true }
        };
        let n = sums.tokens.max(1) as f64;
        Ok(CriticMetrics {
            value_loss: sums.loss,
            value_clip_frac: sums.clipped as f64 / n,
            value_mean: sums.values / n,
            return_mean: sums.returns / n,
            grad_norm: report.grad_norm,
            lr: config.learning_rate,
            skipped: report.skipped,
            skipped_steps: optimizer.skipped_steps(),
            steps: optimizer.steps(),
            tokens: sums.tokens,
        })
    }
}

/// What the micro-batches of a step add up.
#[derive(Default)]
pub(crate) struct Sums {
    pub loss: f64,
    clipped: usize,
    values: f64,
    returns: f64,
    tokens: usize,
}

/// Gradients of the `trainable` variables (the trunk's or its adapters, and the head's),
/// summed over the batch, and the loss terms.
pub(crate) fn value_gradients(decoder: &Decoder, head: &ValueHead, samples: &[ValueSample], config: &CriticTrainConfig, trainable: &[Var]) -> Result<(GradStore, Sums)> {
    let samples: Vec<&ValueSample> = samples.iter().filter(|s| !s.targets.is_empty()).collect();
    let total: usize = samples.iter().map(|s| s.targets.len()).sum();
    let mut grads = Accumulator::new(trainable);
    let mut sums = Sums::default();
    for micro in samples.chunks(config.micro_batch_size) {
        let width = micro.iter().map(|s| s.ids.len()).max().unwrap_or(0);
        let mut ids = vec![0u32; micro.len() * width];
        let mut rows = Vec::new();
        for (b, s) in micro.iter().enumerate() {
            ids[b * width..b * width + s.ids.len()].copy_from_slice(&s.ids);
            rows.extend(s.targets.iter().map(|&t| (b * width + t - 1) as u32));
        }
        let ids = Tensor::from_vec(ids, (micro.len(), width), &Device::Cpu)?;
        let rows = Tensor::from_vec(rows, micro.iter().map(|s| s.targets.len()).sum::<usize>(), &Device::Cpu)?;
        let returns: Vec<f32> = micro.iter().flat_map(|s| s.returns.iter().copied()).collect();
        let old: Option<Vec<f32>> = micro.iter().map(|s| s.old_values.as_deref()).collect::<Option<Vec<_>>>().map(|parts| parts.concat());
        let backward = |hidden: &Tensor| -> Result<Option<GradStore>> {
            let values = head.forward(&hidden.flatten_to(1)?.index_select(&rows, 0)?)?;
            let predicted = values.to_dtype(DType::F32)?.to_vec1::<f32>()?;
            let input = ValueLossInput { values: &predicted, returns: &returns, old_values: old.as_deref(), clip: config.value_clip, tokens: Some(total) };
            let out = compute_value_loss(&input)?;
            sums.loss += out.loss;
            sums.clipped += out.clipped;
            sums.values += out.value_sum;
            sums.returns += out.return_sum;
            sums.tokens += out.tokens;
            // sum_t v_t * dL/dv_t with the derivative held constant: its gradient is dL/dparameter.
            let dloss = Tensor::from_vec(out.grad, predicted.len(), &Device::Cpu)?.to_dtype(values.dtype())?;
            Ok(Some((values * dloss)?.sum_all()?.backward()?))
        };
        decoder_backward(decoder, &ids, config.activation_checkpointing, backward, &mut grads)?;
    }
    Ok((grads.finish(), sums))
}

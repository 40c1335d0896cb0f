//! What one training step does besides the loss: learning rate, micro-batching, clipping,
//! temperature and the optimizer's hyperparameters.

use crate::error::{check_range, CoreError, ErrorCode, Result};
use crate::loss::LossConfig;
use crate::optim::AdamWConfig;

#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    pub loss: LossConfig,
    pub learning_rate: f64,
    /// Sequences per forward / backward pass; gradients accumulate over the whole batch.
    pub micro_batch_size: usize,
    /// Logits are divided by it, as in generation and scoring, so that the log-probs match
    /// those recorded at rollout time.
    pub temperature: f64,
    /// Weight decay, betas, eps and the clipping norm (`max_grad_norm`).
    pub optimizer: AdamWConfig,
}

impl TrainConfig {
    /// The defaults: micro-batches of 8, temperature 1, AdamW's defaults (clip at 1.0).
    pub fn new(loss: LossConfig, learning_rate: f64) -> Self {
        TrainConfig { loss, learning_rate, micro_batch_size: 8, temperature: 1.0, optimizer: AdamWConfig::default() }
    }

    pub fn validate(&self) -> Result<()> {
        self.loss.validate()?;
        check_range("learningRate", self.learning_rate, 0.0, 1e3)?;
        check_range("temperature", self.temperature, 1e-6, 100.0)?;
        if self.micro_batch_size == 0 {
            return Err(CoreError::new(ErrorCode::InvalidParameter, "microBatchSize must be a positive integer, got 0"));
        }
        self.optimizer.validate()
    }
}

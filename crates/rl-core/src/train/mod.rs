//! The training step (ALGORITHMS.md section 3 applied to a model): forward and backward
//! over a batch of sequences in micro-batches, the policy loss of `loss`, global-norm
//! clipping and AdamW from `optim`.
//!
//! `batch` checks what callers send; `head` computes the loss tokens' log-probs in chunks
//! with its own backward; `gradients` accumulates a batch's gradient; `step` is the
//! `Engine::train_step` that applies it; `metrics` is what a step reports.

pub(crate) mod batch;
pub(crate) mod config;
pub(crate) mod gradients;
pub(crate) mod head;
pub(crate) mod metrics;
mod state;
mod step;
#[cfg(test)]
pub(crate) mod tests;

use std::sync::{Mutex, MutexGuard};

pub use batch::{BatchAdvantages, TrainBatch};
pub(crate) use batch::checked_sequences;
pub use config::TrainConfig;
pub use metrics::TrainMetrics;

use crate::optim::AdamW;

/// What training adds to a loaded model: the optimizer, created by the first step (or by
/// restoring a saved state), so that a model only used for inference holds no moments.
#[derive(Default)]
pub struct TrainingState {
    optimizer: Mutex<Option<AdamW>>,
}

impl TrainingState {
    /// The lock also keeps two steps from running at once on one model.
    fn lock(&self) -> MutexGuard<'_, Option<AdamW>> {
        // A panic in an earlier step leaves the state as it was before its update.
        self.optimizer.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

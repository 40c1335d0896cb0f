//! Policy losses (ALGORITHMS.md section 3) over flat per-token buffers: the clipped
//! token surrogate, GSPO and GSPO-token, CISPO, SFT, and the KL penalty, aggregated in four
//! modes. One call returns the loss, its metrics and the analytic gradient with respect to
//! the per-token log-probs, which is how the trainer backpropagates the same loss.

mod backprop;
mod cispo;
mod config;
mod inputs;
mod kl;
mod metrics;
mod normalizer;
mod policy;
mod surrogate;
#[cfg(test)]
mod tests;

pub use backprop::surrogate;
pub use config::{Aggregation, KlEstimator, LossConfig, LossKind};
pub use inputs::LossInput;
pub use kl::LOG_RATIO_CLAMP;
pub use metrics::LossMetrics;
pub use normalizer::Normalizer;
pub use policy::{compute_policy_loss, LossOutput, GSPO_LOG_RATIO_MAX};

//! The RL math of stateset-agents, independent of any JavaScript runtime.
//!
//! `advantages`: GAE and group-relative estimators over flat buffers holding many
//! trajectories or groups at once (ALGORITHMS.md sections 1 and 2).
//! `loss`: policy losses with their analytic gradients (section 3).
//! `optim`: AdamW, learning-rate schedules, gradient clipping.
//! `model`: decoder language models (configuration, weights, forward passes).

pub mod advantages;
pub mod buffer;
pub mod error;
pub mod loss;
pub mod model;
pub mod optim;

pub use error::{CoreError, ErrorCode};

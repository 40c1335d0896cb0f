//! The RL math of stateset-agents, independent of any JavaScript runtime.
//!
//! `advantages`: GAE and group-relative estimators over flat buffers holding many
//! trajectories or groups at once (ALGORITHMS.md sections 1 and 2).
//! `loss`: policy losses with their analytic gradients (section 3).
//! `optim`: AdamW, learning-rate schedules, gradient clipping.
//! `model`: decoder language models (configuration, weights, forward passes).
//! `generate`: batched sampling with a KV cache; `score`: per-token log-probs of given sequences.
//! `train`: the training step (micro-batched forward and backward, AdamW); `lora`: adapters.
//! `critic`: a value head on a decoder and the clipped value loss (PPO).
//! `io`: loading and saving models (HuggingFace folders, GGUF files); `tokenizer`: text <-> ids.

pub mod advantages;
pub mod critic;
pub mod engine;
pub mod error;
pub mod generate;
pub mod io;
pub mod kernels;
mod layerwise;
pub mod lora;
pub mod loss;
pub mod model;
pub mod optim;
pub mod perf;
pub mod score;
pub mod tiny;
pub mod tokenizer;
pub mod train;

pub use error::{CoreError, ErrorCode};

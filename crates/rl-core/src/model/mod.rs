//! Decoder language models: configuration, weights, forward passes.

pub mod config;
pub mod weights;

pub use config::{Architecture, ModelConfig, RopeScaling};
pub use weights::{expected_weights, random_weights, validate_weights, WeightKind, WeightSpec, Weights};

//! Decoder language models: configuration, weights, forward passes.

pub mod config;

pub use config::{Architecture, ModelConfig, RopeScaling};

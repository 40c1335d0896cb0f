//! Decoder language models: configuration, weights, forward passes.
//!
//! `layers` holds the blocks both architectures share; `gpt2` and `llama` are one
//! readable file each; `decoder` puts them behind one type.

pub mod config;
pub mod decoder;
pub mod gpt2;
pub mod layers;
pub mod llama;
pub mod params;
pub mod size_checks;
pub mod tokens;
pub mod weights;

#[cfg(test)]
pub(crate) mod tests;
#[cfg(test)]
mod parity_tests;

pub use config::{Architecture, ModelConfig, RopeScaling};
pub use decoder::{Context, Decoder};
pub use params::Params;
pub use size_checks::{ConfigKeys, TensorShapes, MAX_POSITIONS};
pub use weights::{expected_weights, random_weights, validate_weights, WeightKind, WeightSpec, Weights};

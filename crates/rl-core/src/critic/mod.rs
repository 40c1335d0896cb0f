//! A critic for PPO: a scalar value head on a decoder, trained by the clipped value loss
//! with its own AdamW and learning rate.
//!
//! Built from a policy `Engine`, it takes one of two shapes:
//! - full fine-tuning: its own trainable copy of the policy's starting weights;
//! - LoRA (when the policy trains adapters): fresh adapters of the same rank and targets on
//!   the policy's frozen base weights, shared, not copied (the base is never updated, so
//!   both read the same storage), and no merged copies of the adapted matrices.
//!
//! V at position t is the value of the state before token t: the head reads the hidden
//! state at t - 1, the one the policy's logits for token t come from (`values`). `loss` is
//! the clipped value loss, `step` the training step, `state` saving and restoring.
//!
//! A critic never computes logits, so an untied output projection (`lm_head.weight`) is
//! neither copied nor trained: the trunk holds the policy's own tensor there, only because
//! the decoder is built with one.

mod batch;
mod head;
mod loss;
mod state;
mod step;
#[cfg(test)]
mod tests;
mod values;

use std::sync::{Mutex, MutexGuard};

pub use batch::ValueBatch;
pub use head::{HEAD_BIAS, HEAD_WEIGHT};
pub use loss::{compute_value_loss, ValueLossInput, ValueLossOutput};
pub use state::{CRITIC_CONFIG, CRITIC_HEAD, CRITIC_WEIGHTS};
pub use step::{CriticMetrics, CriticTrainConfig};

use crate::engine::Engine;
use crate::error::Result;
use crate::lora::Lora;
use crate::model::{Decoder, ModelConfig, Params, Weights};
use crate::optim::{AdamW, Param};
use head::ValueHead;

/// The untied output projection, which a critic does not use.
pub(crate) const LM_HEAD: &str = "lm_head.weight";

pub struct Critic {
    config: ModelConfig,
    /// The decoder's weights: the critic's own copy, or the policy's frozen base (shared).
    trunk: Params,
    /// Adapters on the shared base, when the policy trains LoRA.
    lora: Option<Lora>,
    head: ValueHead,
    /// The seed of the head (and of the adapters' A), saved with the state.
    seed: u64,
    /// Created by the first step or restored from a saved state.
    optimizer: Mutex<Option<AdamW>>,
}

impl Critic {
    /// A critic of `policy`'s architecture starting from its current weights: a copy of them,
    /// or, when the policy trains LoRA adapters, new adapters (seeded by `seed`) over the
    /// policy's own base tensors.
    pub fn new(policy: &Engine, seed: u64) -> Result<Self> {
        let config = policy.model.config.clone();
        let (trunk, lora) = match &policy.lora {
            Some(adapters) => {
                let trunk = policy.params().sharing();
                let lora_config = crate::lora::LoraConfig { seed, ..adapters.config.clone() };
                let lora = Lora::without_merged_copies(lora_config, &config, &trunk)?;
                (trunk, Some(lora))
            }
            None => {
                let mut weights = policy.params().detached();
                weights.remove(LM_HEAD);
                let mut trunk = Params::new(&weights)?;
                if let Some(head) = policy.params().vars().get(LM_HEAD) {
                    trunk.insert(LM_HEAD.to_string(), head.clone());
                }
                (trunk, None)
            }
        };
        let dtype = trunk.vars().values().next().map_or(candle_core::DType::F32, |v| v.dtype());
        let head = ValueHead::new(config.hidden_size, dtype, seed)?;
        Ok(Critic { config, trunk, lora, head, seed, optimizer: Mutex::new(None) })
    }

    /// The variables the critic's optimizer updates: the whole trunk (or the adapters) and
    /// the head.
    pub fn params(&self) -> Vec<Param> {
        let mut params = match &self.lora {
            Some(lora) => lora.params(),
            None => self.trunk.optimizer_params(&self.config, |name| name == LM_HEAD),
        };
        params.extend(self.head.params());
        params
    }

    /// How many numbers the critic trains.
    pub fn trainable_parameters(&self) -> usize {
        self.params().iter().map(|p| p.var.elem_count()).sum()
    }

    /// Whether every weight of the trunk is `policy`'s own tensor (same storage), as with LoRA.
    pub fn shares_base_with(&self, policy: &Engine) -> bool {
        let theirs = policy.params().vars();
        self.trunk.vars().len() == theirs.len()
            && self.trunk.vars().iter().all(|(name, var)| theirs.get(name).is_some_and(|t| t.as_tensor().id() == var.as_tensor().id()))
    }

    pub fn uses_lora(&self) -> bool {
        self.lora.is_some()
    }

    /// The trunk's weights: `tracked` ones record a graph to the trainable variables.
    fn decoder_weights(&self, tracked: bool) -> Result<Weights> {
        Ok(match (&self.lora, tracked) {
            (Some(lora), true) => lora.training_weights(&self.trunk)?,
            (Some(lora), false) => lora.inference_weights(&self.trunk)?,
            (None, true) => self.trunk.tracked(),
            (None, false) => self.trunk.detached(),
        })
    }

    fn decoder(&self, tracked: bool) -> Result<Decoder> {
        Decoder::new(&self.config, &self.decoder_weights(tracked)?)
    }

    /// The lock also keeps two steps from running at once.
    fn optimizer(&self) -> MutexGuard<'_, Option<AdamW>> {
        self.optimizer.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

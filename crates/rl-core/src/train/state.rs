//! Saving and restoring what training adds to a model, so that a resumed run continues
//! bit-identically: the optimizer's moments and step counters, and the LoRA adapters when
//! there are any. Full weights are saved with the model itself (`Engine::save`).

use std::path::Path;

use crate::engine::Engine;
use crate::error::{CoreError, ErrorCode, Result};
use crate::optim::{AdamW, AdamWConfig};

impl Engine {
    pub fn save_training_state(&self, dir: &Path) -> Result<()> {
        let guard = self.training.lock();
        let optimizer = guard.as_ref().ok_or_else(|| {
            CoreError::new(ErrorCode::InvalidArgument, "there is no training state to save before the first trainStep")
        })?;
        optimizer.save(dir)?;
        match &self.lora {
            Some(lora) => lora.save(dir, None),
            None => Ok(()),
        }
    }

    /// Restores a state saved by `save_training_state` for the same model (and the same
    /// adapter layers). The next step's configuration replaces the optimizer's own.
    pub fn load_training_state(&self, dir: &Path) -> Result<()> {
        let mut optimizer = AdamW::new(self.trainable_params(), AdamWConfig::default())?;
        optimizer.load(dir)?;
        if let Some(lora) = &self.lora {
            lora.load_values(dir, self.params())?;
            self.decoder().weights_changed();
        }
        *self.training.lock() = Some(optimizer);
        Ok(())
    }

    /// Writes the LoRA adapters in the PEFT layout.
    pub fn save_adapter(&self, dir: &Path, base_model: Option<&str>) -> Result<()> {
        let lora = self.lora.as_ref().ok_or_else(|| {
            CoreError::new(ErrorCode::InvalidArgument, "this model has no LoRA adapters; load it with { lora: { rank, alpha } } to train some, or use save")
        })?;
        lora.save(dir, base_model)
    }
}

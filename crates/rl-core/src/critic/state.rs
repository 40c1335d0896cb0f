//! Saving and restoring a critic, so that a resumed run continues bit-identically. Its
//! folder holds:
//!
//!   critic.json                 the critic's shape (full or LoRA), hidden size and seed
//!   value_head.safetensors      the head (f32)
//!   model.safetensors           the trunk's weights, for a full critic; or
//!   adapter_model.safetensors   its adapters (PEFT layout, with adapter_config.json)
//!   optimizer.*                 AdamW's moments and counters, once a step has run

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use serde::{Deserialize, Serialize};

use super::head::{HEAD_BIAS, HEAD_WEIGHT};
use super::{Critic, LM_HEAD};
use crate::error::{CoreError, ErrorCode, Result};
use crate::lora::peft::write_atomically;
use crate::optim::{AdamW, AdamWConfig, STATE_JSON};

pub const CRITIC_CONFIG: &str = "critic.json";
pub const CRITIC_HEAD: &str = "value_head.safetensors";
pub const CRITIC_WEIGHTS: &str = "model.safetensors";

#[derive(Serialize, Deserialize, PartialEq, Debug)]
struct Shape {
    lora: bool,
    hidden_size: usize,
    seed: u64,
}

fn state_error(dir: &Path, what: impl std::fmt::Display) -> CoreError {
    CoreError::new(ErrorCode::InvalidCheckpoint, format!("critic state in {}: {what}", dir.display()))
}

/// Writes `tensors` as `name` in `dir` through a temporary file: no torn file on a crash.
fn save_tensors(dir: &Path, name: &str, tensors: &HashMap<String, Tensor>) -> Result<()> {
    write_atomically(dir, name, |tmp| candle_core::safetensors::save(tensors, tmp).map_err(|e| e.to_string()))
}

impl Critic {
    fn shape(&self) -> Shape {
        Shape { lora: self.lora.is_some(), hidden_size: self.config.hidden_size, seed: self.seed }
    }

    pub fn save(&self, dir: &Path) -> Result<()> {
        fs::create_dir_all(dir).map_err(|e| state_error(dir, format!("cannot create the folder: {e}")))?;
        let f32 = |t: &Tensor| t.to_dtype(DType::F32);
        let head = HashMap::from([(HEAD_WEIGHT.to_string(), f32(self.head.weight.as_tensor())?), (HEAD_BIAS.to_string(), f32(self.head.bias.as_tensor())?)]);
        save_tensors(dir, CRITIC_HEAD, &head)?;
        match &self.lora {
            Some(lora) => lora.save(dir, None)?,
            None => {
                let trunk = self.trunk.vars().iter().filter(|(name, _)| name.as_str() != LM_HEAD).map(|(name, var)| Ok((name.clone(), f32(var.as_tensor())?))).collect::<Result<_>>()?;
                save_tensors(dir, CRITIC_WEIGHTS, &trunk)?;
            }
        }
        if let Some(optimizer) = self.optimizer().as_ref() {
            optimizer.save(dir)?;
        }
        let text = serde_json::to_string_pretty(&self.shape()).map_err(|e| state_error(dir, e))?;
        write_atomically(dir, CRITIC_CONFIG, |tmp| fs::write(tmp, text).map_err(|e| e.to_string()))
    }

    /// Restores a state saved by `save` from a critic of the same shape: the head, the trunk
    /// (or adapters) and, when saved, the optimizer.
    pub fn load(&self, dir: &Path) -> Result<()> {
        let text = fs::read_to_string(dir.join(CRITIC_CONFIG)).map_err(|e| state_error(dir, format!("cannot read {CRITIC_CONFIG}: {e}")))?;
        let saved: Shape = serde_json::from_str(&text).map_err(|e| state_error(dir, format!("{CRITIC_CONFIG} is malformed: {e}")))?;
        let own = self.shape();
        if (saved.lora, saved.hidden_size) != (own.lora, own.hidden_size) {
            let kind = |s: &Shape| format!("{} critic of hidden size {}", if s.lora { "a LoRA" } else { "a full" }, s.hidden_size);
            return Err(state_error(dir, format!("it holds {} but this is {}; resume with the same model and LoRA setting", kind(&saved), kind(&own))));
        }
        let mut head = read_tensors(dir, CRITIC_HEAD)?;
        let mut values = vec![(self.head.weight.clone(), take(dir, &mut head, HEAD_WEIGHT)?), (self.head.bias.clone(), take(dir, &mut head, HEAD_BIAS)?)];
        if self.lora.is_none() {
            let mut trunk = read_tensors(dir, CRITIC_WEIGHTS)?;
            for (name, var) in self.trunk.vars().iter().filter(|(name, _)| name.as_str() != LM_HEAD) {
                values.push((var.clone(), take(dir, &mut trunk, name)?));
            }
        }
        for (var, value) in &values {
            if value.dims() != var.dims() {
                return Err(state_error(dir, format!("a saved tensor is {:?} but the critic's is {:?}", value.dims(), var.dims())));
            }
        }
        let optimizer = if dir.join(STATE_JSON).exists() {
            let mut optimizer = AdamW::new(self.params(), AdamWConfig::default())?;
            optimizer.load(dir)?;
            Some(optimizer)
        } else {
            None
        };
        if let Some(lora) = &self.lora {
            lora.load_values(dir, &self.trunk)?;
        }
        for (var, value) in values {
            var.set(&value.to_dtype(var.dtype())?)?;
        }
        *self.optimizer() = optimizer;
        Ok(())
    }
}

fn read_tensors(dir: &Path, name: &str) -> Result<HashMap<String, Tensor>> {
    candle_core::safetensors::load(dir.join(name), &Device::Cpu).map_err(|e| state_error(dir, format!("cannot read {name}: {e}")))
}

fn take(dir: &Path, tensors: &mut HashMap<String, Tensor>, name: &str) -> Result<Tensor> {
    tensors.remove(name).ok_or_else(|| state_error(dir, format!("no tensor {name}; was it saved for another model?")))
}

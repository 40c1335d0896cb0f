//! Adapters in the PEFT layout, which HuggingFace tools read: `adapter_config.json`
//! (rank, alpha, target modules) and `adapter_model.safetensors` holding
//! `base_model.model.<module>.lora_A.weight` [rank, in] and `...lora_B.weight` [out, rank].

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use candle_core::{DType, Device};
use serde_json::{json, Value};

use super::{Lora, LoraConfig};
use crate::error::{CoreError, ErrorCode, Result};
use crate::model::{ModelConfig, Params};

pub const ADAPTER_CONFIG: &str = "adapter_config.json";
pub const ADAPTER_WEIGHTS: &str = "adapter_model.safetensors";

pub(super) fn tensor_name(module: &str, which: &str) -> String {
    format!("base_model.model.{module}.lora_{which}.weight")
}

fn adapter_error(dir: &Path, what: impl std::fmt::Display) -> CoreError {
    CoreError::new(ErrorCode::InvalidModel, format!("LoRA adapter in {}: {what}", dir.display()))
}

/// Writes `name` in `dir` through a temporary file, so an interrupted save leaves no torn file.
pub(crate) fn write_atomically(dir: &Path, name: &str, write: impl FnOnce(&Path) -> std::result::Result<(), String>) -> Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    write(&tmp).map_err(|e| CoreError::new(ErrorCode::InvalidCheckpoint, format!("cannot write {name} in {}: {e}", dir.display())))?;
    fs::rename(&tmp, dir.join(name)).map_err(|e| CoreError::new(ErrorCode::InvalidCheckpoint, format!("cannot write {name} in {}: {e}", dir.display())))
}

impl Lora {
    /// Writes the adapters into `dir` (created if needed); `base_model` (the path of the
    /// model they adapt) goes into the config, where loaders find the base.
    pub fn save(&self, dir: &Path, base_model: Option<&str>) -> Result<()> {
        fs::create_dir_all(dir).map_err(|e| CoreError::new(ErrorCode::InvalidCheckpoint, format!("cannot create {}: {e}", dir.display())))?;
        let mut tensors = HashMap::new();
        for p in self.params() {
            tensors.insert(p.name, p.var.as_tensor().to_dtype(DType::F32)?);
        }
        write_atomically(dir, ADAPTER_WEIGHTS, |tmp| candle_core::safetensors::save(&tensors, tmp).map_err(|e| e.to_string()))?;
        let config = json!({
            "peft_type": "LORA",
            "task_type": "CAUSAL_LM",
            "r": self.config.rank,
            "lora_alpha": self.config.alpha,
            "target_modules": self.config.target_modules,
            "lora_dropout": 0.0,
            "bias": "none",
            "fan_in_fan_out": self.transposed,
            "use_rslora": false,
            "inference_mode": true,
            "base_model_name_or_path": base_model.map_or(Value::Null, |b| Value::String(b.to_string())),
        });
        let text = serde_json::to_string_pretty(&config).map_err(|e| adapter_error(dir, e))?;
        write_atomically(dir, ADAPTER_CONFIG, |tmp| fs::write(tmp, text).map_err(|e| e.to_string()))
    }

    /// The adapters saved in `dir`, for a model of `config` whose weights are `params`.
    pub fn load(dir: &Path, model: &ModelConfig, params: &Params) -> Result<Lora> {
        let text = fs::read_to_string(dir.join(ADAPTER_CONFIG)).map_err(|e| adapter_error(dir, format!("cannot read {ADAPTER_CONFIG}: {e}")))?;
        let config: Value = serde_json::from_str(&text).map_err(|e| adapter_error(dir, format!("{ADAPTER_CONFIG} is malformed: {e}")))?;
        if config["use_rslora"].as_bool() == Some(true) {
            return Err(adapter_error(dir, "rank-stabilized LoRA (use_rslora) is not supported"));
        }
        let rank = config["r"].as_u64().ok_or_else(|| adapter_error(dir, "no rank 'r' in the config"))? as usize;
        let alpha = config["lora_alpha"].as_f64().ok_or_else(|| adapter_error(dir, "no 'lora_alpha' in the config"))?;
        let target_modules = match &config["target_modules"] {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a.iter().filter_map(|v| v.as_str().map(String::from)).collect(),
            _ => return Err(adapter_error(dir, "no 'target_modules' in the config")),
        };
        let lora = Lora::new(LoraConfig { rank, alpha, target_modules, seed: 0 }, model, params)?;
        lora.load_values(dir, params)?;
        Ok(lora)
    }

    /// Sets the adapters to the values saved in `dir`, which must hold exactly these layers
    /// with these shapes, and refreshes the merged matrices.
    pub fn load_values(&self, dir: &Path, params: &Params) -> Result<()> {
        let mut tensors = candle_core::safetensors::load(dir.join(ADAPTER_WEIGHTS), &Device::Cpu)
            .map_err(|e| adapter_error(dir, format!("cannot read {ADAPTER_WEIGHTS}: {e}")))?;
        let mut values = Vec::new();
        for p in self.params() {
            let t = tensors.remove(&p.name).ok_or_else(|| adapter_error(dir, format!("no tensor {}; was it saved for another model or configuration?", p.name)))?;
            if t.dims() != p.var.dims() {
                return Err(adapter_error(dir, format!("{} is {:?} but this model's adapter is {:?}", p.name, t.dims(), p.var.dims())));
            }
            values.push((p, t.to_dtype(self.dtype())?));
        }
        if let Some(extra) = tensors.keys().min() {
            return Err(adapter_error(dir, format!("{extra} belongs to no adapted layer of this model")));
        }
        for (p, t) in values {
            p.var.set(&t)?;
        }
        self.refresh(params)
    }
}

//! LoRA adapters: W' = W + (alpha / rank) * B A on chosen matrices, with the base weights
//! frozen. A is random (seeded), B is zero, so an adapter starts as the base model.
//!
//! Training hands the decoders the frozen base weights and each adapter's factors, applied
//! as `x W^T + (x A^T)(s B)^T`: gradients reach A and B only, and no [out, in] matrix is
//! formed or differentiated. Generation and scoring read a merged copy of each adapted matrix, refreshed after
//! every optimizer step, so inference costs what the base model costs. Adapters that only
//! train and score now and then (a critic's) keep no merged copy: their inference weights
//! are computed when asked for. `peft` writes and reads adapters in the PEFT layout.

pub(crate) mod peft;
#[cfg(test)]
mod tests;

use std::path::PathBuf;

use candle_core::{DType, Tensor, Var};

use crate::error::{CoreError, ErrorCode, Result};
use crate::model::weights::SplitMix64;
use crate::model::layers::LoraFactors;
use crate::model::{Architecture, ModelConfig, Params, WeightKind, Weights};
use crate::optim::Param;

pub use peft::{ADAPTER_CONFIG, ADAPTER_WEIGHTS};

#[derive(Debug, Clone, PartialEq)]
pub struct LoraConfig {
    pub rank: usize,
    pub alpha: f64,
    /// Module names matched against the end of each layer's name (`q_proj`, `c_attn`,
    /// `attn.c_proj`, ...). Empty: the attention projections.
    pub target_modules: Vec<String>,
    /// Decides A's initial values.
    pub seed: u64,
}

/// Where a model's adapters come from.
#[derive(Debug, Clone)]
pub enum LoraSource {
    Fresh(LoraConfig),
    /// A folder written by `save_adapter` (or by PEFT).
    Saved(PathBuf),
}

/// The attention projections (query, key, value, output) of each architecture.
pub fn default_targets(arch: Architecture) -> Vec<String> {
    let names: &[&str] = match arch {
        Architecture::Llama => &["q_proj", "k_proj", "v_proj", "o_proj"],
        Architecture::Gpt2 => &["c_attn", "attn.c_proj"],
    };
    names.iter().map(|s| s.to_string()).collect()
}

struct Adapter {
    /// The adapted layer, e.g. `model.layers.0.self_attn.q_proj` (its weight is `<module>.weight`).
    module: String,
    /// [rank, in].
    a: Var,
    /// [out, rank].
    b: Var,
    /// W + s * B A, which inference reads (its own storage: `Var::from_tensor` of a
    /// variable would share the base's); `None` for adapters built `without_merged_copies`.
    merged: Option<Var>,
}

pub struct Lora {
    pub config: LoraConfig,
    adapters: Vec<Adapter>,
    /// GPT-2's Conv1D stores W as [in, out]: its delta is (B A)^T.
    transposed: bool,
}

fn invalid(message: String) -> CoreError {
    CoreError::new(ErrorCode::InvalidParameter, message)
}

impl Lora {
    pub fn new(config: LoraConfig, model: &ModelConfig, params: &Params) -> Result<Self> {
        Lora::build(config, model, params, true)
    }

    /// Adapters without merged copies of the adapted matrices: nothing beside the base but
    /// A and B, at the price of computing W + s * B A in each `inference_weights` call.
    pub fn without_merged_copies(config: LoraConfig, model: &ModelConfig, params: &Params) -> Result<Self> {
        Lora::build(config, model, params, false)
    }

    fn build(mut config: LoraConfig, model: &ModelConfig, params: &Params, merged: bool) -> Result<Self> {
        if config.rank == 0 || config.rank > 4096 {
            return Err(invalid(format!("lora.rank must be an integer from 1 to 4096, got {}", config.rank)));
        }
        if !(config.alpha.is_finite() && config.alpha > 0.0) {
            return Err(invalid(format!("lora.alpha must be a positive number, got {}", config.alpha)));
        }
        if config.target_modules.is_empty() {
            config.target_modules = default_targets(model.architecture);
        }
        let matrices: Vec<&str> = crate::model::expected_weights(model)
            .into_iter()
            .filter(|s| s.kind == WeightKind::Matrix)
            .filter_map(|s| params.vars().get_key_value(&s.name).map(|(name, _)| name.as_str()))
            .collect();
        let modules: Vec<&str> = matrices.iter().filter_map(|name| name.strip_suffix(".weight")).collect();
        for target in &config.target_modules {
            if !modules.iter().any(|m| matches(m, target)) {
                return Err(invalid(format!(
                    "lora.targetModules holds '{target}', which names no matrix of this {:?} model; use names such as {}",
                    model.architecture,
                    default_targets(model.architecture).join(", ")
                )));
            }
        }
        let transposed = model.architecture == Architecture::Gpt2;
        let mut rng = SplitMix64(config.seed);
        let mut adapters = Vec::new();
        for module in modules.into_iter().filter(|m| config.target_modules.iter().any(|t| matches(m, t))) {
            let base = params.vars()[&format!("{module}.weight")].as_tensor();
            let (rows, cols) = base.dims2()?;
            let (out_features, in_features) = if transposed { (cols, rows) } else { (rows, cols) };
            // Kaiming-uniform bound for A, as PEFT initializes it.
            let bound = 1.0 / (in_features as f64).sqrt();
            let values: Vec<f32> = (0..config.rank * in_features).map(|_| ((2.0 * rng.uniform() - 1.0) * bound) as f32).collect();
            let a = Var::from_tensor(&Tensor::from_vec(values, (config.rank, in_features), base.device())?.to_dtype(base.dtype())?)?;
            let b = Var::zeros((out_features, config.rank), base.dtype(), base.device())?;
            let merged = if merged { Some(Var::from_tensor(&base.copy()?)?) } else { None };
            adapters.push(Adapter { module: module.to_string(), a, b, merged });
        }
        Ok(Lora { config, adapters, transposed })
    }

    /// Each adapter's module (e.g. `model.layers.0.self_attn.q_proj`) with its A and B.
    pub(crate) fn factors(&self) -> impl Iterator<Item = (&str, &Var, &Var)> {
        self.adapters.iter().map(|ad| (ad.module.as_str(), &ad.a, &ad.b))
    }

    pub(crate) fn scale(&self) -> f64 {
        self.config.alpha / self.config.rank as f64
    }

    /// s * B A in the base weight's layout; differentiable in A and B.
    fn delta(&self, adapter: &Adapter) -> Result<Tensor> {
        let product = (adapter.b.as_tensor().matmul(adapter.a.as_tensor())? * self.scale())?;
        Ok(if self.transposed { product.t()?.contiguous()? } else { product })
    }

    /// Frozen base weights, plus each adapter's factors A and s * B (named by
    /// `LoraFactors::names`) through which gradients reach the adapters. The decoders
    /// apply them as x W^T + (x A^T)(s B)^T: no merged W + s B A, no gradient for W.
    pub fn training_weights(&self, params: &Params) -> Result<Weights> {
        let mut weights = params.detached();
        for adapter in &self.adapters {
            let [a, b] = LoraFactors::names(&adapter.module);
            weights.insert(a, adapter.a.as_tensor().clone());
            weights.insert(b, (adapter.b.as_tensor() * self.scale())?);
        }
        Ok(weights)
    }

    /// Base weights with each adapted matrix merged; shares the storage `refresh` updates
    /// (without merged copies: W + s * B A computed now, without a graph).
    pub fn inference_weights(&self, params: &Params) -> Result<Weights> {
        let mut weights = params.detached();
        for adapter in &self.adapters {
            let name = format!("{}.weight", adapter.module);
            let merged = match &adapter.merged {
                Some(m) => m.as_tensor().detach(),
                None => (&weights[&name] + self.delta(adapter)?.detach())?,
            };
            weights.insert(name, merged);
        }
        Ok(weights)
    }

    /// Recomputes the merged matrices from the adapters' current values.
    pub fn refresh(&self, params: &Params) -> Result<()> {
        for adapter in &self.adapters {
            if let Some(merged) = &adapter.merged {
                let base = params.vars()[&format!("{}.weight", adapter.module)].as_tensor();
                merged.set(&(base + self.delta(adapter)?.detach())?)?;
            }
        }
        Ok(())
    }

    /// The adapters as the optimizer sees them, named as PEFT names them.
    pub fn params(&self) -> Vec<Param> {
        self.adapters
            .iter()
            .flat_map(|ad| {
                [(peft::tensor_name(&ad.module, "A"), &ad.a), (peft::tensor_name(&ad.module, "B"), &ad.b)]
                    .map(|(name, var)| Param { name, var: var.clone(), kind: WeightKind::Matrix })
            })
            .collect()
    }

    /// How many layers carry an adapter.
    pub fn adapted_layers(&self) -> usize {
        self.adapters.len()
    }

    fn dtype(&self) -> DType {
        self.adapters.first().map_or(DType::F32, |a| a.a.dtype())
    }
}

/// PEFT's rule: a target names a module when it is the module's full name or a suffix
/// after a dot.
fn matches(module: &str, target: &str) -> bool {
    module == target || module.ends_with(&format!(".{target}"))
}

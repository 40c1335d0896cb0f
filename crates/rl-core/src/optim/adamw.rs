//! AdamW with decoupled weight decay, a decay mask by weight kind, global-norm clipping,
//! and steps skipped (weights and moments untouched) when the gradient is not finite. The
//! update itself is one fused pass per parameter, in place (see `fused`).

use candle_core::backprop::GradStore;
use candle_core::Var;

use super::clip::{clip_factor, global_grad_norm};
use super::fused::{step_param, Coefficients};
use super::moments::Moments;
use super::tensor_error;
use crate::error::{check_range, CoreError, ErrorCode, Result};
use crate::model::WeightKind;

#[derive(Debug, Clone, PartialEq)]
pub struct AdamWConfig {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Decoupled decay: each step multiplies a decaying weight by 1 - lr * weight_decay.
    pub weight_decay: f64,
    /// The kinds of weight that decay. Default: matrices only (not norm scales, biases or
    /// embeddings, whose decay toward zero hurts rather than regularizes).
    pub decay_kinds: Vec<WeightKind>,
    /// Clip the global gradient norm to this; `None` does not clip.
    pub max_grad_norm: Option<f64>,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig { beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.01, decay_kinds: vec![WeightKind::Matrix], max_grad_norm: Some(1.0) }
    }
}

impl AdamWConfig {
    pub fn validate(&self) -> Result<()> {
        check_range("beta1", self.beta1, 0.0, 1.0 - f64::EPSILON)?;
        check_range("beta2", self.beta2, 0.0, 1.0 - f64::EPSILON)?;
        check_range("eps", self.eps, 0.0, 1.0)?;
        check_range("weightDecay", self.weight_decay, 0.0, 1.0)?;
        if let Some(max) = self.max_grad_norm {
            if !(max.is_finite() && max > 0.0) {
                return Err(CoreError::new(ErrorCode::InvalidParameter, format!("maxGradNorm must be a finite number > 0, got {max}")));
            }
        }
        Ok(())
    }
}

/// A trainable tensor, named by its HuggingFace weight name.
#[derive(Debug, Clone)]
pub struct Param {
    pub name: String,
    pub var: Var,
    pub kind: WeightKind,
}

/// What one call to `step` did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepReport {
    /// Global gradient norm before clipping (NaN or infinite when the step was skipped).
    pub grad_norm: f64,
    /// Whether the gradient was scaled down to `max_grad_norm`.
    pub clipped: bool,
    /// Whether the step was skipped because the gradient was not finite.
    pub skipped: bool,
}

pub struct AdamW {
    pub(crate) config: AdamWConfig,
    pub(crate) params: Vec<Param>,
    pub(crate) moments: Moments,
    /// Updates applied so far (the t of the bias corrections).
    pub(crate) steps: u64,
    pub(crate) skipped_steps: u64,
}

impl AdamW {
    pub fn new(params: Vec<Param>, config: AdamWConfig) -> Result<Self> {
        config.validate()?;
        let moments = Moments::zeros(params.iter().map(|p| p.var.elem_count()));
        Ok(AdamW { config, params, moments, steps: 0, skipped_steps: 0 })
    }

    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// Updates applied so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Steps skipped so far because the gradient was not finite.
    pub fn skipped_steps(&self) -> u64 {
        self.skipped_steps
    }

    /// One update at learning rate `lr` from the gradients in `grads`. Parameters without
    /// a gradient are left alone (no decay, no moment update).
    pub fn step(&mut self, grads: &GradStore, lr: f64) -> Result<StepReport> {
        check_range("lr", lr, 0.0, 1e3)?;
        let grad_norm = global_grad_norm(self.params.iter().map(|p| &p.var), grads)?;
        if !grad_norm.is_finite() {
            self.skipped_steps += 1;
            return Ok(StepReport { grad_norm, clipped: false, skipped: true });
        }
        let factor = self.config.max_grad_norm.map_or(1.0, |max| clip_factor(grad_norm, max));
        self.steps += 1;
        let t = self.steps as i32;
        let c = &self.config;
        for (i, p) in self.params.iter().enumerate() {
            let Some(g) = grads.get(p.var.as_tensor()) else { continue };
            let decay = if c.decay_kinds.contains(&p.kind) { lr * c.weight_decay } else { 0.0 };
            let (m, v) = self.moments.get_mut(i);
            step_param(&p.var, g, m, v, &Coefficients::new(c, t, lr, decay, factor))
                .map_err(tensor_error(&format!("AdamW update of {}", p.name)))?;
        }
        Ok(StepReport { grad_norm, clipped: factor < 1.0, skipped: false })
    }
}

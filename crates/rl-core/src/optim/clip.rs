//! Global-norm gradient clipping.

use candle_core::backprop::GradStore;
use candle_core::{DType, Var};

use super::tensor_error;
use crate::error::Result;

/// sqrt of the sum of squares of every gradient of `vars` held in `grads` (variables
/// without a gradient count as zero). NaN or infinite when any gradient is, or when the
/// sum of squares overflows f32.
pub fn global_grad_norm<'a>(vars: impl IntoIterator<Item = &'a Var>, grads: &GradStore) -> Result<f64> {
    let mut sum = 0f64;
    for var in vars {
        if let Some(g) = grads.get(var.as_tensor()) {
            let squares = g.to_dtype(DType::F32).and_then(|g| g.sqr()?.sum_all()?.to_scalar::<f32>());
            sum += squares.map_err(tensor_error("gradient norm"))? as f64;
        }
    }
    Ok(sum.sqrt())
}

/// The factor that brings a gradient of global norm `norm` down to `max_norm`: 1 when it
/// is already within it.
pub fn clip_factor(norm: f64, max_norm: f64) -> f64 {
    if norm > max_norm {
        max_norm / norm
    } else {
        1.0
    }
}

/// Scales every gradient of `vars` in `grads` so that their global norm is at most
/// `max_norm`; returns the norm before clipping. Non-finite gradients are left as they are
/// (the optimizer skips such a step).
pub fn clip_grad_norm(vars: &[Var], grads: &mut GradStore, max_norm: f64) -> Result<f64> {
    let norm = global_grad_norm(vars, grads)?;
    let factor = clip_factor(norm, max_norm);
    if norm.is_finite() && factor < 1.0 {
        for var in vars {
            if let Some(g) = grads.get(var.as_tensor()) {
                let scaled = g.affine(factor, 0.0).map_err(tensor_error("gradient clipping"))?;
                grads.insert(var.as_tensor(), scaled);
            }
        }
    }
    Ok(norm)
}

//! Global-norm gradient clipping.

use candle_core::backprop::GradStore;
use candle_core::Var;

use super::fused::{sum_of_squares, with_f32_values};
use super::tensor_error;
use crate::error::Result;

/// sqrt of the sum of squares of every gradient of `vars` held in `grads` (variables
/// without a gradient count as zero), in one pass over each gradient's values with f64
/// accumulation. NaN or infinite when any gradient is, or when one gradient's sum of squares
/// is beyond f32's range: AdamW's f32 second moment would overflow on it, so such a step is
/// skipped like a non-finite one.
pub fn global_grad_norm<'a>(vars: impl IntoIterator<Item = &'a Var>, grads: &GradStore) -> Result<f64> {
    let mut sum = 0f64;
    for var in vars {
        if let Some(g) = grads.get(var.as_tensor()) {
            let squares = with_f32_values(g, sum_of_squares).map_err(tensor_error("gradient norm"))?;
            sum += if squares > f32::MAX as f64 { f64::INFINITY } else { squares };
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

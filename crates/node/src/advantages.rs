//! Bindings of `rl_core::advantages`. Inputs are borrowed from JavaScript typed arrays
//! without copying; outputs hand their Rust buffers to JavaScript without copying.

use napi::bindgen_prelude::{Float32Array, Float64Array};
use napi_derive::napi;
use rl_core::advantages as core;

use crate::errors::to_napi;

#[napi(object)]
pub struct GaeResult {
    pub advantages: Float32Array,
    pub returns: Float32Array,
}

#[napi(catch_unwind)]
#[allow(clippy::too_many_arguments)]
pub fn compute_gae(
    rewards: &[f32],
    values: &[f32],
    dones: Option<&[u8]>,
    mask: Option<&[u8]>,
    offsets: Option<&[i32]>,
    bootstrap: Option<&[f32]>,
    gamma: f64,
    lambda: f64,
    whiten: bool,
) -> napi::Result<GaeResult> {
    let input = core::GaeInput { rewards, values, dones, mask, offsets, bootstrap, gamma, lambda, whiten };
    let out = core::compute_gae(&input).map_err(to_napi)?;
    Ok(GaeResult { advantages: Float32Array::new(out.advantages), returns: Float32Array::new(out.returns) })
}

#[napi(catch_unwind)]
pub fn group_advantages(
    rewards: &[f32],
    group_size: Option<u32>,
    group_ids: Option<&[i32]>,
    estimator: String,
    scale: String,
    eps: f64,
) -> napi::Result<Float32Array> {
    let layout = match (group_size, group_ids) {
        (Some(size), None) => core::GroupLayout::Size(size as usize),
        (None, Some(ids)) => core::GroupLayout::Ids(ids),
        _ => {
            return Err(to_napi(rl_core::CoreError::new(
                rl_core::ErrorCode::InvalidGroups,
                "give exactly one of groupSize (equal consecutive groups) or groupIds (one id per reward)",
            )))
        }
    };
    let estimator = core::Estimator::parse(&estimator).map_err(to_napi)?;
    let scale = core::Scale::parse(&scale).map_err(to_napi)?;
    let input = core::GroupInput { rewards, layout, estimator, scale, eps };
    Ok(Float32Array::new(core::group_advantages(&input).map_err(to_napi)?))
}

#[napi(catch_unwind)]
pub fn whiten(values: &[f32], mask: Option<&[u8]>) -> napi::Result<Float32Array> {
    Ok(Float32Array::new(core::whiten(values, mask).map_err(to_napi)?))
}

/// Welford statistics of one batch, `[count, mean, m2]`, to be merged by the caller.
#[napi(catch_unwind)]
pub fn running_stats(values: &[f32]) -> napi::Result<Float64Array> {
    let mut stats = core::RunningMeanStd::new();
    stats.update(values);
    Ok(Float64Array::new(vec![stats.count, stats.mean, stats.m2]))
}

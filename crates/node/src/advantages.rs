//! Bindings of `rl_core::advantages`. Inputs are borrowed from JavaScript typed arrays
//! without copying; outputs hand their Rust buffers to JavaScript without copying, or
//! (the `*_into` variants) are written into typed arrays the caller owns.

use std::ops::Range;

use napi::bindgen_prelude::{Float32Array, Float32ArraySlice, Float64Array};
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

/// `computeGae` into `advantages` and `returns`, which the caller owns: nothing is allocated.
#[napi(catch_unwind)]
#[allow(clippy::too_many_arguments)]
pub fn compute_gae_into(
    rewards: &[f32],
    values: &[f32],
    dones: Option<&[u8]>,
    mask: Option<&[u8]>,
    offsets: Option<&[i32]>,
    bootstrap: Option<&[f32]>,
    gamma: f64,
    lambda: f64,
    whiten: bool,
    mut advantages: Float32ArraySlice,
    mut returns: Float32ArraySlice,
) -> napi::Result<()> {
    let inputs = [span("rewards", rewards), span("values", values), opt_span("dones", dones), opt_span("mask", mask), opt_span("offsets", offsets), opt_span("bootstrap", bootstrap)];
    check_disjoint(&[span("out.advantages", &advantages[..]), span("out.returns", &returns[..])], &inputs)?;
    let input = core::GaeInput { rewards, values, dones, mask, offsets, bootstrap, gamma, lambda, whiten };
    // SAFETY: JavaScript waits for this synchronous call, and the buffers were just checked
    // to share no memory with each other or with any input.
    let (advantages, returns) = unsafe { (advantages.as_mut(), returns.as_mut()) };
    core::compute_gae_into(&input, advantages, returns).map_err(to_napi)
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
    let input = group_input(rewards, group_size, group_ids, &estimator, &scale, eps)?;
    Ok(Float32Array::new(core::group_advantages(&input).map_err(to_napi)?))
}

/// `groupAdvantages` into `out`, which the caller owns.
#[napi(catch_unwind)]
pub fn group_advantages_into(
    rewards: &[f32],
    group_size: Option<u32>,
    group_ids: Option<&[i32]>,
    estimator: String,
    scale: String,
    eps: f64,
    mut out: Float32ArraySlice,
) -> napi::Result<()> {
    check_disjoint(&[span("out", &out[..])], &[span("rewards", rewards), opt_span("groupIds", group_ids)])?;
    let input = group_input(rewards, group_size, group_ids, &estimator, &scale, eps)?;
    // SAFETY: as in `compute_gae_into`.
    core::group_advantages_into(&input, unsafe { out.as_mut() }).map_err(to_napi)
}

fn group_input<'a>(
    rewards: &'a [f32],
    group_size: Option<u32>,
    group_ids: Option<&'a [i32]>,
    estimator: &str,
    scale: &str,
    eps: f64,
) -> napi::Result<core::GroupInput<'a>> {
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
    let estimator = core::Estimator::parse(estimator).map_err(to_napi)?;
    let scale = core::Scale::parse(scale).map_err(to_napi)?;
    Ok(core::GroupInput { rewards, layout, estimator, scale, eps })
}

#[napi(catch_unwind)]
pub fn whiten(values: &[f32], mask: Option<&[u8]>) -> napi::Result<Float32Array> {
    Ok(Float32Array::new(core::whiten(values, mask).map_err(to_napi)?))
}

/// `whiten` into `out`, which the caller owns.
#[napi(catch_unwind)]
pub fn whiten_into(values: &[f32], mask: Option<&[u8]>, mut out: Float32ArraySlice) -> napi::Result<()> {
    check_disjoint(&[span("out", &out[..])], &[span("values", values), opt_span("mask", mask)])?;
    // SAFETY: as in `compute_gae_into`.
    core::whiten_into(values, mask, unsafe { out.as_mut() }).map_err(to_napi)
}

/// The addresses a typed array covers, by its name in the JavaScript API.
type Span = (&'static str, Range<usize>);

fn span<T>(name: &'static str, s: &[T]) -> Span {
    let start = s.as_ptr() as usize;
    (name, start..start + std::mem::size_of_val(s))
}

fn opt_span<T>(name: &'static str, s: Option<&[T]>) -> Span {
    s.map_or((name, 0..0), |s| span(name, s))
}

/// Outputs are written while inputs are read, so no output may share memory with an input
/// or another output (JavaScript allows views of one buffer; Rust's aliasing rules do not).
/// Checked on addresses alone, before any element is read or written.
fn check_disjoint(outputs: &[Span], inputs: &[Span]) -> napi::Result<()> {
    for (i, (name, out)) in outputs.iter().enumerate() {
        let others = outputs[i + 1..].iter().chain(inputs);
        if let Some((other, _)) = others.into_iter().find(|(_, r)| !r.is_empty() && !out.is_empty() && r.start < out.end && out.start < r.end) {
            return Err(to_napi(rl_core::CoreError::new(
                rl_core::ErrorCode::InvalidArgument,
                format!("{name} shares memory with {other}; give output buffers of their own"),
            )));
        }
    }
    Ok(())
}

/// Welford statistics of one batch, `[count, mean, m2]`, to be merged by the caller.
#[napi(catch_unwind)]
pub fn running_stats(values: &[f32]) -> napi::Result<Float64Array> {
    let mut stats = core::RunningMeanStd::new();
    stats.update(values);
    Ok(Float64Array::new(vec![stats.count, stats.mean, stats.m2]))
}

//! The AdamW update as one pass over (weight, gradient, m, v) per parameter, in place in
//! the weight's own storage, and the sum of squares of a gradient in one pass over its
//! values: no tensor temporaries, no copy of the weights.

use std::cell::RefCell;

use candle_core::{bail, CpuStorage, DType, Device, InplaceOp2, Layout, Storage, Tensor, Var};
use rayon::prelude::*;

use super::AdamWConfig;

/// Elements per rayon task when a parameter is split across threads: enough work per task
/// that scheduling costs nothing next to it (the pass is memory-bound), and small enough
/// that a few-million-element matrix still spreads over every core. Fixed, so that the
/// results (the f64 sums of squares included) do not depend on the thread count.
const CHUNK: usize = 1 << 15;

/// One step's scalars for one parameter, rounded to f32 exactly where the tensor formula
/// this pass replaced rounded them (candle's `affine(mul, add)` computes `x * mul + add`
/// with both cast to the tensor's dtype).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Coefficients {
    clip: f32,
    beta1: f32,
    one_minus_beta1: f32,
    beta2: f32,
    one_minus_beta2: f32,
    inv_correction1: f32,
    inv_correction2: f32,
    eps: f32,
    /// 1 - lr * weight_decay for a decaying weight, 1 otherwise.
    keep: f32,
    lr: f32,
}

impl Coefficients {
    /// Step `t` (1-based) at learning rate `lr`, with the gradient scaled by `clip` and the
    /// weight multiplied by 1 - `decay` (decoupled decay, already lr * weight_decay).
    pub fn new(config: &AdamWConfig, t: i32, lr: f64, decay: f64, clip: f64) -> Self {
        let (correction1, correction2) = (1.0 - config.beta1.powi(t), 1.0 - config.beta2.powi(t));
        Coefficients {
            clip: clip as f32,
            beta1: config.beta1 as f32,
            one_minus_beta1: (1.0 - config.beta1) as f32,
            beta2: config.beta2 as f32,
            one_minus_beta2: (1.0 - config.beta2) as f32,
            inv_correction1: (1.0 / correction1) as f32,
            inv_correction2: (1.0 / correction2) as f32,
            eps: config.eps as f32,
            keep: (1.0 - decay) as f32,
            lr: lr as f32,
        }
    }
}

/// candle's affine on one value: written out (rather than `x * mul`) so that each value
/// comes out as the tensor formula computed it, -0 included, and a run resumed from a state
/// saved before this pass existed continues as it would have.
#[inline(always)]
fn affine(x: f32, mul: f32, add: f32) -> f32 {
    x * mul + add
}

fn update_serial(theta: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], k: &Coefficients) {
    for (((x, &g), m), v) in theta.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
        let g = affine(g, k.clip, 0.0);
        *m = affine(*m, k.beta1, 0.0) + affine(g, k.one_minus_beta1, 0.0);
        *v = affine(*v, k.beta2, 0.0) + affine(g * g, k.one_minus_beta2, 0.0);
        let m_hat = affine(*m, k.inv_correction1, 0.0);
        let denom = affine(affine(*v, k.inv_correction2, 0.0).sqrt(), 1.0, k.eps);
        *x = affine(*x, k.keep, 0.0) - affine(m_hat / denom, k.lr, 0.0);
    }
}

/// theta <- AdamW(theta, g, m, v), every slice updated in place; element-wise, so the
/// result is the same on any number of threads.
pub(crate) fn update(theta: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], k: &Coefficients) -> candle_core::Result<()> {
    let n = theta.len();
    if g.len() != n || m.len() != n || v.len() != n {
        bail!("AdamW: a weight of {n} values has a gradient of {} and moments of {} and {}", g.len(), m.len(), v.len());
    }
    if n <= CHUNK {
        update_serial(theta, g, m, v, k);
    } else {
        (theta.par_chunks_mut(CHUNK), g.par_chunks(CHUNK), m.par_chunks_mut(CHUNK), v.par_chunks_mut(CHUNK))
            .into_par_iter()
            .for_each(|(theta, g, m, v)| update_serial(theta, g, m, v, k));
    }
    Ok(())
}

/// The update as candle's in-place op on the weight (the destination) with the gradient as
/// its source; the moments are borrowed for the call (`cpu_fwd` takes `&self`).
struct InPlaceStep<'a> {
    m: RefCell<&'a mut [f32]>,
    v: RefCell<&'a mut [f32]>,
    k: Coefficients,
}

/// The contiguous span of `layout` in a storage of `len` values.
fn span(layout: &Layout, len: usize) -> candle_core::Result<std::ops::Range<usize>> {
    match layout.contiguous_offsets() {
        Some((start, end)) if end <= len => Ok(start..end),
        _ => bail!("fused AdamW needs contiguous tensors"),
    }
}

impl InplaceOp2 for InPlaceStep<'_> {
    fn name(&self) -> &'static str {
        "fused-adamw"
    }

    fn cpu_fwd(&self, theta: &mut CpuStorage, theta_layout: &Layout, g: &CpuStorage, g_layout: &Layout) -> candle_core::Result<()> {
        let (CpuStorage::F32(theta), CpuStorage::F32(g)) = (theta, g) else {
            bail!("fused AdamW needs f32 weights and gradients");
        };
        let theta_span = span(theta_layout, theta.len())?;
        let g = &g[span(g_layout, g.len())?];
        update(&mut theta[theta_span], g, &mut self.m.borrow_mut(), &mut self.v.borrow_mut(), &self.k)
    }
}

/// One AdamW step of `var` from its gradient `g`. An f32 weight on the CPU (every weight
/// the engine trains) is updated in its own storage; any other weight goes through an f32
/// copy and `Var::set`, by the same arithmetic, as the tensor formula did for it.
pub(crate) fn step_param(var: &Var, g: &Tensor, m: &mut [f32], v: &mut [f32], k: &Coefficients) -> candle_core::Result<()> {
    let theta = var.as_tensor();
    if theta.dtype() == DType::F32 && theta.device().is_cpu() && g.dtype() == DType::F32 && g.device().is_cpu() {
        let g = if g.is_contiguous() { g.clone() } else { g.contiguous()? };
        let op = InPlaceStep { m: RefCell::new(m), v: RefCell::new(v), k: *k };
        return theta.inplace_op2(&g, &op);
    }
    let mut values = with_f32_values(theta, <[f32]>::to_vec)?;
    with_f32_values(g, |g| update(&mut values, g, m, v, k))??;
    var.set(&Tensor::from_vec(values, theta.shape(), theta.device())?.to_dtype(theta.dtype())?)
}

/// Runs `f` on the values of `t` in row-major order, as f32: the tensor's own storage when
/// it is a contiguous f32 CPU tensor, a converted copy otherwise.
pub(crate) fn with_f32_values<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> R) -> candle_core::Result<R> {
    {
        let (storage, layout) = t.storage_and_layout();
        if let (Storage::Cpu(CpuStorage::F32(values)), Some((start, end))) = (&*storage, layout.contiguous_offsets()) {
            return Ok(f(&values[start..end]));
        }
    }
    let copy = t.to_dtype(DType::F32)?.flatten_all()?.to_device(&Device::Cpu)?.to_vec1::<f32>()?;
    Ok(f(&copy))
}

/// Sum of the squares of `values`, accumulated in f64 in a fixed order (eight lanes per
/// chunk, chunks in sequence), so that the result is the same on any number of threads.
pub(crate) fn sum_of_squares(values: &[f32]) -> f64 {
    fn serial(values: &[f32]) -> f64 {
        let mut lanes = [0f64; 8];
        let blocks = values.chunks_exact(8);
        let tail = blocks.remainder();
        for block in blocks {
            for (lane, &x) in lanes.iter_mut().zip(block) {
                *lane += x as f64 * x as f64;
            }
        }
        lanes.iter().sum::<f64>() + tail.iter().map(|&x| x as f64 * x as f64).sum::<f64>()
    }
    if values.len() <= CHUNK {
        return serial(values);
    }
    let partial: Vec<f64> = values.par_chunks(CHUNK).map(serial).collect();
    partial.iter().sum()
}

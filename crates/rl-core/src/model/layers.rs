//! The building blocks both decoders share: linear maps, norms, softmax, rotary
//! position embeddings and causal attention.
//!
//! Each block has two implementations with the same math. When any input takes part in a
//! graph (`track_op`: a trainable `Var` or something computed from one), it is composed
//! from differentiable primitives, because candle's fused kernels (`softmax_last_dim`,
//! `rms_norm`, `layer_norm`, `rope`) have no backward and would silently stop the
//! gradient. Otherwise (generation, scoring: detached weights) the fused, multi-threaded
//! kernels run.
//!
//! Two blocks have a third implementation that keeps a backward but drops the waste of
//! the composed one: attention over whole sequences runs `flash_attention` (no
//! [time, keys] tensors; training and scoring share its arithmetic), and a linear map
//! whose weight is frozen runs `frozen_linear` (no weight gradient). Tests can switch both
//! back to the composed reference with `with_reference_path`.

use std::sync::Arc;

use candle_core::{Tensor, D};

use super::decoder::Context;
use super::flash::flash_attention;
use super::frozen_linear::frozen_linear;
pub use super::frozen_linear::WeightLayout;
use crate::error::Result;

fn tracked(xs: &[&Tensor]) -> bool {
    xs.iter().any(|t| t.track_op())
}

#[cfg(test)]
thread_local! {
    static REFERENCE_PATH: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with attention and frozen linear maps composed from candle's differentiable
/// ops, as before the custom kernels: the reference the kernels are tested against.
#[cfg(test)]
pub(crate) fn with_reference_path<R>(f: impl FnOnce() -> R) -> R {
    with_flag(&REFERENCE_PATH, f)
}

/// Runs `f` with a test switch of this thread set, and clears it after, even on a panic.
#[cfg(test)]
pub(crate) fn with_flag<R>(flag: &'static std::thread::LocalKey<std::cell::Cell<bool>>, f: impl FnOnce() -> R) -> R {
    flag.with(|r| r.set(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    flag.with(|r| r.set(false));
    result.unwrap_or_else(|e| std::panic::resume_unwind(e))
}

pub(crate) fn reference_path() -> bool {
    #[cfg(test)]
    return REFERENCE_PATH.with(|r| r.get());
    #[cfg(not(test))]
    false
}

/// Whether `x @ w (+ b)` should skip the weight's gradient: `x` carries a graph that the
/// constant weight and bias are not part of.
fn frozen(x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> bool {
    x.track_op() && !w.track_op() && !b.is_some_and(|b| b.track_op()) && !reference_path()
}

/// `x @ w^T + b` for a Linear weight in the [out, in] layout; `x` is [..., in].
pub fn linear(x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Result<Tensor> {
    if frozen(x, w, b) {
        return matmul_last(x, None, w.dim(0)?, |rows| frozen_product(rows, w, b, WeightLayout::OutIn));
    }
    matmul_last(x, b, w.dim(0)?, |rows| rows.matmul(&w.t()?))
}

/// `x @ w + b` for a Conv1D weight in the [in, out] layout (GPT-2).
pub fn conv1d(x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Result<Tensor> {
    if frozen(x, w, b) {
        return matmul_last(x, None, w.dim(1)?, |rows| frozen_product(rows, w, b, WeightLayout::InOut));
    }
    matmul_last(x, b, w.dim(1)?, |rows| rows.matmul(w))
}

fn frozen_product(rows: &Tensor, w: &Tensor, b: Option<&Tensor>, layout: WeightLayout) -> candle_core::Result<Tensor> {
    frozen_linear(rows, w, b, layout).map_err(|e| candle_core::Error::Msg(e.to_string()))
}

/// `x @ W^T + b` (`OutIn`, Linear) or `x @ W + b` (`InOut`, Conv1D), plus a LoRA
/// adapter's `(x @ A^T) @ (s B)^T`: the frozen base product and the adapter's small ones
/// stay separate, so no [out, in] gradient or merged matrix is ever formed.
pub fn adapted_linear(x: &Tensor, w: &Tensor, b: Option<&Tensor>, adapter: Option<&LoraFactors>, layout: WeightLayout) -> Result<Tensor> {
    let product = |w: &Tensor| match layout {
        WeightLayout::OutIn => linear(x, w, b),
        WeightLayout::InOut => conv1d(x, w, b),
    };
    let Some(f) = adapter else { return product(w) };
    if reference_path() {
        // The adapter merged into the weight, W + s B A, as LoRA training once computed it.
        let delta = f.delta()?;
        let delta = if layout == WeightLayout::InOut { delta.t()?.contiguous()? } else { delta };
        return product(&(w + delta)?);
    }
    Ok((product(w)? + linear(&linear(x, &f.a, None)?, &f.scaled_b, None)?)?)
}

/// A LoRA adapter's factors as the decoders receive them: A [rank, in] and s * B [out, rank].
pub struct LoraFactors {
    pub a: Tensor,
    pub scaled_b: Tensor,
}

impl LoraFactors {
    /// The names under which `Weights` carry the factors of `module` (e.g.
    /// `model.layers.0.self_attn.q_proj`) in LoRA training.
    pub fn names(module: &str) -> [String; 2] {
        [format!("{module}.lora_A"), format!("{module}.lora_B_scaled")]
    }

    pub fn load(weights: &super::Weights, module: &str) -> Option<Self> {
        let [a, b] = LoraFactors::names(module);
        Some(LoraFactors { a: weights.get(&a)?.clone(), scaled_b: weights.get(&b)?.clone() })
    }

    /// s * B A in the [out, in] layout: the merged form the reference path adds to W.
    pub fn delta(&self) -> Result<Tensor> {
        Ok(self.scaled_b.matmul(&self.a)?)
    }
}

/// Applies the 2-D `product` to the last dimension of `x` (flattened to [rows, in]: one
/// large gemm instead of one per batch row), adds the bias and restores the leading
/// dimensions.
fn matmul_last(x: &Tensor, b: Option<&Tensor>, out_features: usize, product: impl FnOnce(&Tensor) -> candle_core::Result<Tensor>) -> Result<Tensor> {
    let dims = x.dims();
    let (lead, inner) = dims.split_at(dims.len() - 1);
    let y = product(&x.reshape((lead.iter().product::<usize>(), inner[0]))?)?;
    let y = match b {
        Some(b) => y.broadcast_add(b)?,
        None => y,
    };
    let mut out = lead.to_vec();
    out.push(out_features);
    Ok(y.reshape(out)?)
}

/// Rows of `table` [n, width] picked by `ids` [batch, time]: [batch, time, width].
pub fn embed(table: &Tensor, ids: &Tensor) -> Result<Tensor> {
    let (b, t) = ids.dims2()?;
    Ok(table.embedding(&ids.flatten_all()?)?.reshape((b, t, table.dim(1)?))?)
}

/// LayerNorm over the last dimension: (x - mean) / sqrt(var + eps) * w + b.
pub fn layer_norm(x: &Tensor, w: &Tensor, b: &Tensor, eps: f64) -> Result<Tensor> {
    let x = x.contiguous()?;
    if !tracked(&[&x, w, b]) {
        return Ok(candle_nn::ops::layer_norm(&x, w, b, eps as f32)?);
    }
    let centered = x.broadcast_sub(&x.mean_keepdim(D::Minus1)?)?;
    let var = centered.sqr()?.mean_keepdim(D::Minus1)?;
    let normed = centered.broadcast_div(&(var + eps)?.sqrt()?)?;
    Ok(normed.broadcast_mul(w)?.broadcast_add(b)?)
}

/// RMSNorm over the last dimension: x / sqrt(mean(x^2) + eps) * w.
pub fn rms_norm(x: &Tensor, w: &Tensor, eps: f64) -> Result<Tensor> {
    let x = x.contiguous()?;
    if !tracked(&[&x, w]) {
        return Ok(candle_nn::ops::rms_norm(&x, w, eps as f32)?);
    }
    let rms = (x.sqr()?.mean_keepdim(D::Minus1)? + eps)?.sqrt()?;
    Ok(x.broadcast_div(&rms)?.broadcast_mul(w)?)
}

/// Softmax over the last dimension. The row maximum is subtracted for stability and
/// detached: softmax does not depend on it, so it needs no gradient.
pub fn softmax(x: &Tensor) -> Result<Tensor> {
    let x = x.contiguous()?;
    if !tracked(&[&x]) {
        return Ok(candle_nn::ops::softmax_last_dim(&x)?);
    }
    let shifted = x.broadcast_sub(&x.max_keepdim(D::Minus1)?.detach())?;
    let e = shifted.exp()?;
    Ok(e.broadcast_div(&e.sum_keepdim(D::Minus1)?)?)
}

/// Rotary embedding, "rotate half" convention (HuggingFace Llama): `x` is
/// [batch, heads, time, head_dim]; `cos`/`sin` are [batch, time, head_dim / 2], one row
/// per token position.
pub fn rope(x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
    let x = x.contiguous()?;
    if !tracked(&[&x]) {
        return Ok(candle_nn::rotary_emb::rope(&x, cos, sin)?);
    }
    let half = x.dim(D::Minus1)? / 2;
    let (x1, x2) = (x.narrow(D::Minus1, 0, half)?, x.narrow(D::Minus1, half, half)?);
    let rotated = Tensor::cat(&[&x2.neg()?, &x1], D::Minus1)?;
    let cos = Tensor::cat(&[cos, cos], D::Minus1)?.unsqueeze(1)?;
    let sin = Tensor::cat(&[sin, sin], D::Minus1)?.unsqueeze(1)?;
    Ok((x.broadcast_mul(&cos)? + rotated.broadcast_mul(&sin)?)?)
}

/// Scaled dot-product attention with grouped-query heads.
///
/// `q` is [batch, heads, time, head_dim]; `k`, `v` are [batch, kv_heads, keys, head_dim]
/// (possibly a view into a KV cache); `ctx` says which keys each query sees. Query heads
/// `g * group .. (g + 1) * group` share kv head `g`. Returns [batch, time, heads * head_dim].
///
/// Whole sequences (training, scoring, prefill) run the flash kernel; a decode step (one
/// new query per row, nothing to differentiate) keeps the composed form, whose products
/// gemm runs well at that size.
pub fn attention(q: &Tensor, k: &Tensor, v: &Tensor, ctx: &Context) -> Result<Tensor> {
    let (b, heads, t, d) = q.dims4()?;
    if reference_path() || (t == 1 && !tracked(&[q, k, v])) {
        return composed_attention(q, k, v, ctx.mask()?);
    }
    let out = flash_attention(q, k, v, Arc::clone(&ctx.key_spans))?;
    Ok(out.transpose(1, 2)?.reshape((b, t, heads * d))?)
}

/// `attention` composed from candle ops, with an additive `mask` [batch, time, keys]
/// (0 or -inf). Query heads sharing a kv head are folded into the rows of one matrix
/// product per kv head, so keys and values are never copied per head.
pub fn composed_attention(q: &Tensor, k: &Tensor, v: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let (b, heads, t, d) = q.dims4()?;
    let (kv_heads, keys) = (k.dim(1)?, k.dim(2)?);
    let group = heads / kv_heads;
    let q = (q.contiguous()?.reshape((b, kv_heads, group * t, d))? * (1.0 / (d as f64).sqrt()))?;
    let scores = q.matmul(&k.t()?)?.reshape((b, kv_heads, group, t, keys))?;
    let scores = scores.broadcast_add(&mask.reshape((b, 1, 1, t, keys))?)?;
    let probs = softmax(&scores)?.reshape((b, kv_heads, group * t, keys))?;
    let out = probs.matmul(v)?.reshape((b, heads, t, d))?;
    Ok(out.transpose(1, 2)?.reshape((b, t, heads * d))?)
}

/// Splits [batch, time, heads * head_dim] into [batch, heads, time, head_dim].
pub fn split_heads(x: &Tensor, heads: usize) -> Result<Tensor> {
    let (b, t, width) = x.dims3()?;
    Ok(x.reshape((b, t, heads, width / heads))?.transpose(1, 2)?.contiguous()?)
}


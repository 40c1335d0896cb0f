//! `kernels::flash_attention` as a candle op with a backward, so that attention on the
//! training path keeps no [queries, keys] tensor and the rest of the graph stays candle's.

use std::sync::{Arc, Mutex};

use candle_core::{CpuStorage, CustomOp3, Layout, Shape, Storage, Tensor};

use crate::error::Result;
use crate::kernels::flash_attention::{self, Dims, KeySpan, Strided};
use crate::kernels::Real;

/// softmax(q k^T / sqrt(head_dim) restricted to each query's key span) v.
///
/// `q` is [batch, heads, time, head_dim]; `k`, `v` are [batch, kv_heads, keys, head_dim]
/// (a view into a KV cache is fine); `spans` holds one span per (batch row, query).
/// Returns [batch, heads, time, head_dim]. Records a backward when an input tracks one.
pub fn flash_attention(q: &Tensor, k: &Tensor, v: &Tensor, spans: Arc<Vec<KeySpan>>) -> Result<Tensor> {
    let (k, v) = (contiguous_rows(k)?, contiguous_rows(v)?);
    let op = FlashAttention { spans, lse: Mutex::new(None) };
    let q = q.contiguous()?;
    Ok(if q.track_op() || k.track_op() || v.track_op() { q.apply_op3(&k, &v, op)? } else { q.apply_op3_no_bwd(&k, &v, &op)? })
}

/// `x` itself when its last dimension is contiguous (the kernel takes any other strides).
fn contiguous_rows(x: &Tensor) -> Result<Tensor> {
    Ok(if x.stride().last() == Some(&1) { x.clone() } else { x.contiguous()? })
}

struct FlashAttention {
    spans: Arc<Vec<KeySpan>>,
    /// The forward's per-row log-sum-exp, which its backward reads.
    lse: Mutex<Option<CpuStorage>>,
}

fn dims(q: &Layout, k: &Layout) -> candle_core::Result<Dims> {
    let (batch, heads, queries, head_dim) = q.shape().dims4()?;
    let (_, kv_heads, keys, _) = k.shape().dims4()?;
    Ok(Dims { batch, heads, kv_heads, queries, keys, head_dim })
}

fn strided<'a, T>(data: &'a [T], layout: &Layout) -> Strided<'a, T> {
    let s = layout.stride();
    Strided { data, offset: layout.start_offset(), strides: [s[0], s[1], s[2]] }
}

fn contiguous<'a, T>(data: &'a [T], layout: &Layout) -> candle_core::Result<&'a [T]> {
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => candle_core::bail!("flash attention: q, its output and output gradient must be contiguous"),
    }
}

fn run_forward<T: Real>(op: &FlashAttention, dims: Dims, q: &[T], k: Strided<T>, v: Strided<T>) -> (Vec<T>, Vec<T>) {
    let mut out = vec![T::ZERO; q.len()];
    let mut lse = vec![T::ZERO; dims.batch * dims.heads * dims.queries];
    flash_attention::forward(dims, q, k, v, &op.spans, 1.0 / (dims.head_dim as f64).sqrt(), &mut out, &mut lse);
    (out, lse)
}

impl CustomOp3 for FlashAttention {
    fn name(&self) -> &'static str {
        "flash-attention"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout, s3: &CpuStorage, l3: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let dims = dims(l1, l2)?;
        let (out, lse) = match (s1, s2, s3) {
            (CpuStorage::F32(q), CpuStorage::F32(k), CpuStorage::F32(v)) => {
                let (out, lse) = run_forward(self, dims, contiguous(q, l1)?, strided(k, l2), strided(v, l3));
                (CpuStorage::F32(out), CpuStorage::F32(lse))
            }
            (CpuStorage::F64(q), CpuStorage::F64(k), CpuStorage::F64(v)) => {
                let (out, lse) = run_forward(self, dims, contiguous(q, l1)?, strided(k, l2), strided(v, l3));
                (CpuStorage::F64(out), CpuStorage::F64(lse))
            }
            _ => candle_core::bail!("flash attention runs in f32 or f64, with q, k and v of one type"),
        };
        *self.lse.lock().unwrap_or_else(|p| p.into_inner()) = Some(lse);
        Ok((out, l1.shape().clone()))
    }

    fn bwd(&self, q: &Tensor, k: &Tensor, v: &Tensor, out: &Tensor, d_out: &Tensor) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let lse = self.lse.lock().unwrap_or_else(|p| p.into_inner());
        let Some(lse) = lse.as_ref() else { candle_core::bail!("flash attention: backward before forward") };
        let d_out = d_out.contiguous()?;
        let (sq, lq) = q.storage_and_layout();
        let (sk, lk) = k.storage_and_layout();
        let (sv, lv) = v.storage_and_layout();
        let (so, lo) = out.storage_and_layout();
        let (sd, ld) = d_out.storage_and_layout();
        let dims = dims(lq, lk)?;
        let scale = 1.0 / (dims.head_dim as f64).sqrt();
        let kv_len = dims.batch * dims.kv_heads * dims.keys * dims.head_dim;
        macro_rules! grads {
            ($variant:ident, $t:ty) => {{
                let (Storage::Cpu(CpuStorage::$variant(q)), Storage::Cpu(CpuStorage::$variant(k)), Storage::Cpu(CpuStorage::$variant(v)), Storage::Cpu(CpuStorage::$variant(o)), Storage::Cpu(CpuStorage::$variant(d)), CpuStorage::$variant(lse)) = (&*sq, &*sk, &*sv, &*so, &*sd, lse) else {
                    candle_core::bail!("flash attention: the backward's tensors are not all of one CPU type")
                };
                let q = contiguous(q, lq)?;
                let (mut dq, mut dk, mut dv) = (vec![0 as $t; q.len()], vec![0 as $t; kv_len], vec![0 as $t; kv_len]);
                flash_attention::backward(dims, q, strided(k, lk), strided(v, lv), &self.spans, scale, contiguous(o, lo)?, lse, contiguous(d, ld)?, &mut dq, &mut dk, &mut dv);
                (dq, dk, dv)
            }};
        }
        let device = q.device();
        let kv_shape = (dims.batch, dims.kv_heads, dims.keys, dims.head_dim);
        let (dq, dk, dv) = match lse {
            CpuStorage::F32(_) => {
                let (dq, dk, dv) = grads!(F32, f32);
                (Tensor::from_vec(dq, q.shape(), device)?, Tensor::from_vec(dk, kv_shape, device)?, Tensor::from_vec(dv, kv_shape, device)?)
            }
            _ => {
                let (dq, dk, dv) = grads!(F64, f64);
                (Tensor::from_vec(dq, q.shape(), device)?, Tensor::from_vec(dk, kv_shape, device)?, Tensor::from_vec(dv, kv_shape, device)?)
            }
        };
        Ok((Some(dq), Some(dk), Some(dv)))
    }
}

//! Causal grouped-query attention without the [queries, keys] matrix (FlashAttention-2's
//! algorithm, on CPU): the forward keeps a running maximum and normalizer per query row
//! (online softmax) and saves only the output O and each row's log-sum-exp; the backward
//! recomputes the probabilities from them, with D = rowsum(dO * O) and
//! dS = P * (dP - D).
//!
//! Which keys a query row sees is a contiguous span `[start, end)` per (batch row, query):
//! that is all the decoders' masks express (causal, after left padding and the KV cache's
//! offset; see `model::decoder::Context`). A row with an empty span outputs zeros and
//! receives no gradient.
//!
//! Layouts: q, O, dO, dq are contiguous [batch, heads, queries, head_dim]; k and v are
//! [batch, kv_heads, keys, head_dim] with a contiguous last dimension and any other
//! strides (a view into a KV cache); dk and dv are contiguous. Query head `h` reads kv
//! head `h / (heads / kv_heads)`. Work is split over (batch, head) in the forward and
//! (batch, kv head) in the backward, so no two threads write the same gradient rows.

use rayon::prelude::*;

use super::real::{axpy, dot, scale, Real};

/// The keys `[start, end)` one query row attends to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySpan {
    pub start: u32,
    pub end: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dims {
    pub batch: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub queries: usize,
    pub keys: usize,
    pub head_dim: usize,
}

/// Keys or values: [batch, kv_heads, keys, head_dim] at `offset` in `data`, with element
/// strides for the first three dimensions (the last is contiguous).
#[derive(Clone, Copy)]
pub struct Strided<'a, T> {
    pub data: &'a [T],
    pub offset: usize,
    pub strides: [usize; 3],
}

impl<T> Strided<'_, T> {
    #[inline(always)]
    fn row(&self, b: usize, g: usize, j: usize, d: usize) -> &[T] {
        let at = self.offset + b * self.strides[0] + g * self.strides[1] + j * self.strides[2];
        &self.data[at..at + d]
    }
}

/// Keys scored at once before the running maximum is updated.
const KEY_BLOCK: usize = 64;

/// Fills `out` (like q) and `lse` ([batch, heads, queries]) from q, k, v. `spans` holds
/// one span per (batch row, query); `scale` multiplies q . k.
pub fn forward<T: Real>(dims: Dims, q: &[T], k: Strided<T>, v: Strided<T>, spans: &[KeySpan], scale: f64, out: &mut [T], lse: &mut [T]) {
    check(dims, q, spans);
    let (t, d) = (dims.queries, dims.head_dim);
    let group = dims.heads / dims.kv_heads;
    let fast = simd_available();
    out.par_chunks_mut(t * d).zip(lse.par_chunks_mut(t)).enumerate().for_each(|(unit, (out, lse))| {
        let (b, h) = (unit / dims.heads, unit % dims.heads);
        let job = HeadJob { dims, q: &q[unit * t * d..(unit + 1) * t * d], k, v, spans: &spans[b * t..(b + 1) * t], b, g: h / group, scale: T::from_f64(scale) };
        #[cfg(target_arch = "x86_64")]
        if fast {
            // SAFETY: `simd_available` checked that this CPU has AVX2 and FMA.
            return unsafe { forward_head_avx2(&job, out, lse) };
        }
        let _ = fast;
        forward_head(&job, out, lse);
    });
}

/// Gradients of q, k and v (dq like q; dk, dv contiguous [batch, kv_heads, keys,
/// head_dim]) from the forward's inputs, its `out` and `lse`, and the output gradient
/// `d_out` (like q).
#[allow(clippy::too_many_arguments)]
pub fn backward<T: Real>(dims: Dims, q: &[T], k: Strided<T>, v: Strided<T>, spans: &[KeySpan], scale: f64, out: &[T], lse: &[T], d_out: &[T], dq: &mut [T], dk: &mut [T], dv: &mut [T]) {
    check(dims, q, spans);
    let (t, s, d) = (dims.queries, dims.keys, dims.head_dim);
    let group = dims.heads / dims.kv_heads;
    let fast = simd_available();
    let per_group = group * t * d;
    dq.par_chunks_mut(per_group).zip(dk.par_chunks_mut(s * d)).zip(dv.par_chunks_mut(s * d)).enumerate().for_each(|(unit, ((dq, dk), dv))| {
        let (b, g) = (unit / dims.kv_heads, unit % dims.kv_heads);
        let rows = unit * per_group..(unit + 1) * per_group;
        let job = GroupJob {
            head: HeadJob { dims, q: &q[rows.clone()], k, v, spans: &spans[b * t..(b + 1) * t], b, g, scale: T::from_f64(scale) },
            out: &out[rows.clone()],
            d_out: &d_out[rows],
            lse: &lse[unit * group * t..(unit + 1) * group * t],
        };
        dq.fill(T::ZERO);
        dk.fill(T::ZERO);
        dv.fill(T::ZERO);
        #[cfg(target_arch = "x86_64")]
        if fast {
            // SAFETY: `simd_available` checked that this CPU has AVX2 and FMA.
            return unsafe { backward_group_avx2(&job, dq, dk, dv) };
        }
        let _ = fast;
        backward_group(&job, dq, dk, dv);
    });
}

fn check<T>(dims: Dims, q: &[T], spans: &[KeySpan]) {
    assert!(dims.kv_heads > 0 && dims.heads % dims.kv_heads == 0, "heads must be a multiple of kv_heads");
    assert_eq!(q.len(), dims.batch * dims.heads * dims.queries * dims.head_dim, "q has the wrong size");
    assert_eq!(spans.len(), dims.batch * dims.queries, "one key span per (batch row, query)");
    assert!(spans.iter().all(|s| s.start <= s.end && s.end as usize <= dims.keys), "key spans must lie inside the keys");
}

#[cfg(target_arch = "x86_64")]
fn simd_available() -> bool {
    use std::sync::OnceLock;
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"))
}

#[cfg(not(target_arch = "x86_64"))]
fn simd_available() -> bool {
    false
}

/// One query head of one batch row: its q rows [queries, head_dim] and where its keys are.
struct HeadJob<'a, T> {
    dims: Dims,
    q: &'a [T],
    k: Strided<'a, T>,
    v: Strided<'a, T>,
    spans: &'a [KeySpan],
    b: usize,
    /// The kv head.
    g: usize,
    scale: T,
}

/// The query heads of one batch row that share kv head `head.g`, with what the backward
/// reads besides the forward's inputs.
struct GroupJob<'a, T> {
    /// Its `q` holds all the group's heads, one after the other.
    head: HeadJob<'a, T>,
    out: &'a [T],
    d_out: &'a [T],
    lse: &'a [T],
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn forward_head_avx2<T: Real>(job: &HeadJob<T>, out: &mut [T], lse: &mut [T]) {
    forward_head(job, out, lse)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn backward_group_avx2<T: Real>(job: &GroupJob<T>, dq: &mut [T], dk: &mut [T], dv: &mut [T]) {
    backward_group(job, dq, dk, dv)
}

#[inline(always)]
fn forward_head<T: Real>(job: &HeadJob<T>, out: &mut [T], lse: &mut [T]) {
    let d = job.dims.head_dim;
    let mut scores = [T::ZERO; KEY_BLOCK];
    for (i, (o, lse)) in out.chunks_exact_mut(d).zip(lse.iter_mut()).enumerate() {
        o.fill(T::ZERO);
        let span = job.spans[i];
        if span.start >= span.end {
            *lse = T::NEG_INFINITY;
            continue;
        }
        let q = &job.q[i * d..(i + 1) * d];
        let (mut max, mut sum) = (T::NEG_INFINITY, T::ZERO);
        let mut first = span.start as usize;
        while first < span.end as usize {
            let n = KEY_BLOCK.min(span.end as usize - first);
            let mut block_max = T::NEG_INFINITY;
            for (jj, s) in scores[..n].iter_mut().enumerate() {
                *s = dot(q, job.k.row(job.b, job.g, first + jj, d)) * job.scale;
                block_max = block_max.max(*s);
            }
            if block_max > max {
                // Rescale what was accumulated under the old maximum (exp(-inf) = 0 at first).
                let correction = (max - block_max).exp();
                sum = sum * correction;
                scale(o, correction);
                max = block_max;
            }
            for (jj, &s) in scores[..n].iter().enumerate() {
                let p = (s - max).exp();
                sum += p;
                axpy(o, p, job.v.row(job.b, job.g, first + jj, d));
            }
            first += n;
        }
        scale(o, sum.recip());
        *lse = max + sum.ln();
    }
}

#[inline(always)]
fn backward_group<T: Real>(job: &GroupJob<T>, dq: &mut [T], dk: &mut [T], dv: &mut [T]) {
    let h = &job.head;
    let d = h.dims.head_dim;
    for (row, dq) in dq.chunks_exact_mut(d).enumerate() {
        let i = row % h.dims.queries;
        let span = h.spans[i];
        if span.start >= span.end {
            continue;
        }
        let (q, d_out) = (&h.q[row * d..(row + 1) * d], &job.d_out[row * d..(row + 1) * d]);
        let delta = dot(d_out, &job.out[row * d..(row + 1) * d]);
        let lse = job.lse[row];
        for j in span.start as usize..span.end as usize {
            let (k, v) = (h.k.row(h.b, h.g, j, d), h.v.row(h.b, h.g, j, d));
            let p = (dot(q, k) * h.scale - lse).exp();
            let ds = p * (dot(d_out, v) - delta) * h.scale;
            axpy(&mut dv[j * d..(j + 1) * d], p, d_out);
            axpy(dq, ds, k);
            axpy(&mut dk[j * d..(j + 1) * d], ds, q);
        }
    }
}

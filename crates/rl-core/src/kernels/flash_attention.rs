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
//!
//! Scores are computed a block of `BLOCK` keys at a time from a transposed copy of the
//! keys ([head_dim, keys], made once per unit of work): each step of the head_dim loop is
//! one broadcast multiply-add into a block held in registers, with no horizontal sums.

use rayon::prelude::*;

use super::real::{fma_block, scale, Block, Real, BLOCK};
use super::simd_available;

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

impl<T: Real> Strided<'_, T> {
    #[inline(always)]
    fn row(&self, b: usize, g: usize, j: usize, d: usize) -> &[T] {
        let at = self.offset + b * self.strides[0] + g * self.strides[1] + j * self.strides[2];
        &self.data[at..at + d]
    }

    /// Kv head `g` of batch row `b` as [head_dim, keys rounded up to BLOCK], zero-padded.
    fn transposed(&self, b: usize, g: usize, dims: Dims) -> Transposed<T> {
        let (d, width) = (dims.head_dim, dims.keys.div_ceil(BLOCK) * BLOCK);
        let mut data = vec![T::ZERO; d * width];
        for j in 0..dims.keys {
            for (e, &x) in self.row(b, g, j, d).iter().enumerate() {
                data[e * width + j] = x;
            }
        }
        Transposed { data, width }
    }
}

struct Transposed<T> {
    data: Vec<T>,
    width: usize,
}

impl<T: Real> Transposed<T> {
    /// sum_e x[e] * self[e][first .. first + BLOCK] for x = x0 and x1: two blocks of dot
    /// products in one pass over the keys.
    #[inline(always)]
    fn scores2(&self, x0: &[T], x1: &[T], first: usize) -> [Block<T>; 2] {
        let mut acc = [[T::ZERO; BLOCK]; 2];
        for (e, (&a, &b)) in x0.iter().zip(x1).enumerate() {
            let at = e * self.width + first;
            let row: &Block<T> = self.data[at..at + BLOCK].try_into().unwrap();
            fma_block(&mut acc[0], a, row);
            fma_block(&mut acc[1], b, row);
        }
        acc
    }
}

/// The BLOCK-aligned blocks that cover `span`.
#[inline(always)]
fn blocks(span: KeySpan) -> impl Iterator<Item = usize> {
    (span.start as usize / BLOCK * BLOCK..span.end as usize).step_by(BLOCK)
}

/// Sets the scores of keys outside `span` (block starting at `first`) to -inf.
#[inline(always)]
fn mask<T: Real>(scores: &mut Block<T>, first: usize, span: KeySpan) {
    for (jj, s) in scores.iter_mut().enumerate() {
        let j = first + jj;
        if j < span.start as usize || j >= span.end as usize {
            *s = T::NEG_INFINITY;
        }
    }
}

/// Fills `out` (like q) and `lse` ([batch, heads, queries]) from q, k, v. `spans` holds
/// one span per (batch row, query); `scale` multiplies q . k.
#[allow(clippy::too_many_arguments)]
pub fn forward<T: Real>(dims: Dims, q: &[T], k: Strided<T>, v: Strided<T>, spans: &[KeySpan], scale: f64, out: &mut [T], lse: &mut [T]) {
    check(dims, q, spans);
    let (t, d) = (dims.queries, dims.head_dim);
    let group = dims.heads / dims.kv_heads;
    let fast = simd_available();
    out.par_chunks_mut(t * d).zip(lse.par_chunks_mut(t)).enumerate().for_each(|(unit, (out, lse))| {
        let (b, h) = (unit / dims.heads, unit % dims.heads);
        let job = HeadJob { dims, q: &q[unit * t * d..(unit + 1) * t * d], kt: k.transposed(b, h / group, dims), v, spans: &spans[b * t..(b + 1) * t], b, g: h / group, scale: T::from_f64(scale) };
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
            head: HeadJob { dims, q: &q[rows.clone()], kt: k.transposed(b, g, dims), v, spans: &spans[b * t..(b + 1) * t], b, g, scale: T::from_f64(scale) },
            k,
            vt: v.transposed(b, g, dims),
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
    assert!(dims.kv_heads > 0 && dims.heads.is_multiple_of(dims.kv_heads), "heads must be a multiple of kv_heads");
    assert_eq!(q.len(), dims.batch * dims.heads * dims.queries * dims.head_dim, "q has the wrong size");
    assert_eq!(spans.len(), dims.batch * dims.queries, "one key span per (batch row, query)");
    assert!(spans.iter().all(|s| s.start <= s.end && s.end as usize <= dims.keys), "key spans must lie inside the keys");
}


/// One query head of one batch row: its q rows [queries, head_dim] and where its keys are.
struct HeadJob<'a, T> {
    dims: Dims,
    q: &'a [T],
    /// The kv head's keys, transposed.
    kt: Transposed<T>,
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
    k: Strided<'a, T>,
    /// The kv head's values, transposed.
    vt: Transposed<T>,
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

/// Query rows are taken two at a time, so that both share each pass over the transposed
/// keys and each value row's load; a missing second row (an odd count) has an empty span
/// and writes into scratch.
#[inline(always)]
fn forward_head<T: Real>(job: &HeadJob<T>, out: &mut [T], lse: &mut [T]) {
    let d = job.dims.head_dim;
    let empty = KeySpan { start: 0, end: 0 };
    let (mut scratch, mut scratch_lse) = (vec![T::ZERO; d], [T::ZERO]);
    let mut q_scaled = [vec![T::ZERO; d], vec![T::ZERO; d]];
    for (pair, (out_pair, lse_pair)) in out.chunks_mut(2 * d).zip(lse.chunks_mut(2)).enumerate() {
        let i = 2 * pair;
        let two = lse_pair.len() == 2;
        let (o0, o1) = if two { out_pair.split_at_mut(d) } else { (out_pair, &mut scratch[..]) };
        let (lse0, lse1) = if two { lse_pair.split_at_mut(1) } else { (lse_pair, &mut scratch_lse[..]) };
        let mut o = [o0, o1];
        let spans = [job.spans[i], if two { job.spans[i + 1] } else { empty }];
        let live = spans.map(|s| s.start < s.end);
        for r in 0..2 {
            o[r].fill(T::ZERO);
            let row = if r == 1 && two { i + 1 } else { i };
            for (qs, &x) in q_scaled[r].iter_mut().zip(&job.q[row * d..(row + 1) * d]) {
                *qs = x * job.scale;
            }
        }
        let union = KeySpan {
            start: spans.iter().filter(|s| s.start < s.end).map(|s| s.start).min().unwrap_or(0),
            end: spans.iter().map(|s| s.end).max().unwrap_or(0),
        };
        let (mut max, mut sum) = ([T::NEG_INFINITY; 2], [T::ZERO; 2]);
        for first in blocks(union) {
            let mut p = job.kt.scores2(&q_scaled[0], &q_scaled[1], first);
            for r in 0..2 {
                if live[r] {
                    mask(&mut p[r], first, spans[r]);
                }
                let block_max = p[r].iter().fold(T::NEG_INFINITY, |m, &s| m.max(s));
                if !live[r] || block_max == T::NEG_INFINITY {
                    // No key of this row in the block.
                    p[r] = [T::ZERO; BLOCK];
                    continue;
                }
                if block_max > max[r] {
                    // Rescale what was accumulated under the old maximum (exp(-inf) = 0 at first).
                    let correction = (max[r] - block_max).exp();
                    sum[r] = sum[r] * correction;
                    scale(o[r], correction);
                    max[r] = block_max;
                }
                for s in p[r].iter_mut() {
                    *s = *s - max[r];
                }
                T::exp_block(&mut p[r]);
                for &pj in p[r].iter() {
                    sum[r] += pj;
                }
            }
            for (jj, (&p0, &p1)) in p[0].iter().zip(&p[1]).enumerate() {
                let j = first + jj;
                if j >= union.end as usize || (p0 == T::ZERO && p1 == T::ZERO) {
                    continue;
                }
                let v = job.v.row(job.b, job.g, j, d);
                let [o0, o1] = &mut o;
                for ((o0, o1), &x) in o0.iter_mut().zip(o1.iter_mut()).zip(v) {
                    *o0 += p0 * x;
                    *o1 += p1 * x;
                }
            }
        }
        for (r, lse) in [lse0, lse1].into_iter().enumerate() {
            if live[r] {
                scale(o[r], sum[r].recip());
                lse[0] = max[r] + sum[r].ln();
            } else {
                lse[0] = T::NEG_INFINITY;
            }
        }
    }
}

/// Query rows are taken two at a time (of one head), so that each key's dk and dv rows
/// are loaded and stored once for both; a missing second row (an odd count) has an empty
/// span and writes into scratch.
#[inline(always)]
#[allow(clippy::needless_range_loop)] // `jj` indexes four blocks at once
fn backward_group<T: Real>(job: &GroupJob<T>, dq: &mut [T], dk: &mut [T], dv: &mut [T]) {
    let h = &job.head;
    let (d, t) = (h.dims.head_dim, h.dims.queries);
    let empty = KeySpan { start: 0, end: 0 };
    let mut scratch = vec![T::ZERO; d];
    let mut q_scaled = [vec![T::ZERO; d], vec![T::ZERO; d]];
    for (hh, dq_head) in dq.chunks_exact_mut(t * d).enumerate() {
        for (pair, dq_pair) in dq_head.chunks_mut(2 * d).enumerate() {
            let i = 2 * pair;
            let two = dq_pair.len() == 2 * d;
            let (dq0, dq1) = if two { dq_pair.split_at_mut(d) } else { (dq_pair, &mut scratch[..]) };
            let row = [hh * t + i, hh * t + i + usize::from(two)];
            let spans = [h.spans[i], if two { h.spans[i + 1] } else { empty }];
            let live = spans.map(|s| s.start < s.end);
            if !live[0] && !live[1] {
                continue;
            }
            let q = row.map(|r| &h.q[r * d..(r + 1) * d]);
            let d_out = row.map(|r| &job.d_out[r * d..(r + 1) * d]);
            // D = rowsum(dO * O), summed in the order `vt.scores` sums dP so that dP - D is
            // exactly 0 where it should be (a row with one key).
            let delta = row.map(|r| job.d_out[r * d..(r + 1) * d].iter().zip(&job.out[r * d..(r + 1) * d]).fold(T::ZERO, |acc, (&x, &o)| acc + x * o));
            let lse = row.map(|r| job.lse[r]);
            for r in 0..2 {
                for (qs, &x) in q_scaled[r].iter_mut().zip(q[r]) {
                    *qs = x * h.scale;
                }
            }
            let union = KeySpan {
                start: spans.iter().filter(|s| s.start < s.end).map(|s| s.start).min().unwrap_or(0),
                end: spans.iter().map(|s| s.end).max().unwrap_or(0),
            };
            for first in blocks(union) {
                let mut p = h.kt.scores2(&q_scaled[0], &q_scaled[1], first);
                let dp = job.vt.scores2(d_out[0], d_out[1], first);
                let mut ds = [[T::ZERO; BLOCK]; 2];
                for r in 0..2 {
                    if !live[r] {
                        p[r] = [T::ZERO; BLOCK];
                        continue;
                    }
                    mask(&mut p[r], first, spans[r]);
                    for s in p[r].iter_mut() {
                        *s = *s - lse[r];
                    }
                    T::exp_block(&mut p[r]);
                    for jj in 0..BLOCK {
                        ds[r][jj] = p[r][jj] * (dp[r][jj] - delta[r]) * h.scale;
                    }
                }
                for jj in 0..BLOCK {
                    let j = first + jj;
                    if j < union.start as usize || j >= union.end as usize {
                        continue;
                    }
                    let (p0, p1, ds0, ds1) = (p[0][jj], p[1][jj], ds[0][jj], ds[1][jj]);
                    for ((dv, &a), &b) in dv[j * d..(j + 1) * d].iter_mut().zip(d_out[0]).zip(d_out[1]) {
                        *dv += p0 * a + p1 * b;
                    }
                    for ((dk, &a), &b) in dk[j * d..(j + 1) * d].iter_mut().zip(q[0]).zip(q[1]) {
                        *dk += ds0 * a + ds1 * b;
                    }
                    let k = job.k.row(h.b, h.g, j, d);
                    for ((dq0, dq1), &x) in dq0.iter_mut().zip(dq1.iter_mut()).zip(k) {
                        *dq0 += ds0 * x;
                        *dq1 += ds1 * x;
                    }
                }
            }
        }
    }
}

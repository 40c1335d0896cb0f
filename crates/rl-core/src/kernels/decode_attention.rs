//! Attention of one new query per sequence (a decode step) over the keys in a KV cache:
//! scores, softmax and the weighted sum of values in one pass per (batch row, kv head), the
//! query heads that share a kv head together, so each cached key and value is read once
//! per step. The flash kernel would first copy the keys transposed for every query head,
//! which for a single query costs as much as the attention itself.
//!
//! Layouts as in `flash_attention`: q and out [batch, heads, head_dim] (one query), k and v
//! strided [batch, kv_heads, keys, head_dim]; `spans` holds one span per batch row.

use rayon::prelude::*;

use super::flash_attention::{Dims, KeySpan, Strided};
use super::simd_available;

/// Fills `out` from q, k, v; `scale` multiplies q . k. A row with an empty span outputs zeros.
pub fn forward(dims: Dims, q: &[f32], k: Strided<f32>, v: Strided<f32>, spans: &[KeySpan], scale: f32, out: &mut [f32]) {
    let (d, group) = (dims.head_dim, dims.heads / dims.kv_heads);
    assert!(dims.queries == 1 && q.len() == dims.batch * dims.heads * d && out.len() == q.len() && spans.len() == dims.batch, "decode_attention: shapes do not match");
    let fast = simd_available();
    out.par_chunks_mut(group * d).enumerate().for_each(|(unit, out)| {
        let (b, g) = (unit / dims.kv_heads, unit % dims.kv_heads);
        let job = Job { q: &q[unit * group * d..(unit + 1) * group * d], k, v, span: spans[b], at: [b, g], d, scale };
        #[cfg(target_arch = "x86_64")]
        if fast {
            // SAFETY: `simd_available` checked that this CPU has AVX2 and FMA.
            return unsafe { job_avx2(&job, out) };
        }
        let _ = fast;
        job.run(out);
    });
}

/// One (batch row, kv head): its query heads' queries and outputs.
struct Job<'a> {
    q: &'a [f32],
    k: Strided<'a, f32>,
    v: Strided<'a, f32>,
    span: KeySpan,
    at: [usize; 2],
    d: usize,
    scale: f32,
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn job_avx2(job: &Job, out: &mut [f32]) {
    job.run(out)
}

impl Job<'_> {
    #[inline(always)]
    fn row<'s>(&self, m: &Strided<'s, f32>, j: usize) -> &'s [f32] {
        let at = m.offset + self.at[0] * m.strides[0] + self.at[1] * m.strides[1] + j * m.strides[2];
        &m.data[at..at + self.d]
    }

    #[inline(always)]
    fn run(&self, out: &mut [f32]) {
        let (start, end) = (self.span.start as usize, self.span.end as usize);
        out.iter_mut().for_each(|o| *o = 0.0);
        if start >= end {
            return;
        }
        let mut scores = vec![0f32; end - start];
        for (q, out) in self.q.chunks(self.d).zip(out.chunks_mut(self.d)) {
            let mut max = f32::NEG_INFINITY;
            for (j, s) in (start..end).zip(scores.iter_mut()) {
                *s = dot(q, self.row(&self.k, j)) * self.scale;
                max = max.max(*s);
            }
            let mut sum = 0f32;
            for (j, s) in (start..end).zip(scores.iter()) {
                let p = (s - max).exp();
                sum += p;
                axpy(out, p, self.row(&self.v, j));
            }
            out.iter_mut().for_each(|o| *o /= sum);
        }
    }
}

/// a . b in eight lanes (the compiler keeps them in one vector register).
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a8.remainder().iter().zip(b8.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in a8.zip(b8) {
        for i in 0..8 {
            lanes[i] += x[i] * y[i];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// y += a x.
#[inline(always)]
fn axpy(y: &mut [f32], a: f32, x: &[f32]) {
    y.iter_mut().zip(x).for_each(|(y, x)| *y += a * x);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_query_attends_like_a_softmax_over_its_span_with_shared_kv_heads() {
        let dims = Dims { batch: 2, heads: 4, kv_heads: 2, queries: 1, keys: 7, head_dim: 12 };
        let value = |i: usize, salt: usize| (((i * 2654435761 + salt * 97) >> 7) % 1000) as f32 / 500.0 - 1.0;
        let capacity = 9;
        let cache = |salt| (0..dims.batch * dims.kv_heads * capacity * dims.head_dim).map(|i| value(i, salt)).collect::<Vec<f32>>();
        let (k, v) = (cache(1), cache(2));
        let strides = [dims.kv_heads * capacity * dims.head_dim, capacity * dims.head_dim, dims.head_dim];
        let q: Vec<f32> = (0..dims.batch * dims.heads * dims.head_dim).map(|i| value(i, 3)).collect();
        let spans = [KeySpan { start: 2, end: 7 }, KeySpan { start: 0, end: 5 }];
        let mut out = vec![0f32; q.len()];
        forward(dims, &q, Strided { data: &k, offset: 0, strides }, Strided { data: &v, offset: 0, strides }, &spans, 0.3, &mut out);
        let d = dims.head_dim;
        for b in 0..dims.batch {
            for h in 0..dims.heads {
                let g = h / 2;
                let row = |m: &[f32], j: usize| m[b * strides[0] + g * strides[1] + j * d..][..d].to_vec();
                let qh = &q[(b * dims.heads + h) * d..][..d];
                let span = spans[b].start as usize..spans[b].end as usize;
                let scores: Vec<f64> = span.clone().map(|j| 0.3 * qh.iter().zip(row(&k, j)).map(|(a, b)| (a * b) as f64).sum::<f64>()).collect();
                let total: f64 = scores.iter().map(|s| s.exp()).sum();
                for e in 0..d {
                    let expected: f64 = span.clone().zip(&scores).map(|(j, s)| s.exp() / total * row(&v, j)[e] as f64).sum();
                    let got = out[(b * dims.heads + h) * d + e] as f64;
                    assert!((got - expected).abs() < 1e-5, "row {b} head {h} dim {e}: {got} vs {expected}");
                }
            }
        }
    }
}

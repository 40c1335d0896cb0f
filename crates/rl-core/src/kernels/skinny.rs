//! Products of a few rows (a decode step: one row per sequence) with a weight matrix stored
//! [out, in], in one streaming pass over the weight. gemm packs the transposed view of such
//! a weight on every call, which for a handful of rows costs more than the product itself;
//! here each weight element is read once and used for every row, so a decode step runs at
//! the rate the weights stream from memory.
//!
//! `out_in`: y [m, n] = x [m, k] W^T for W [n, k] (Linear). Rows of x are taken up to
//! `GROUP` at a time; work is split over the weight's output features.

use rayon::prelude::*;

use super::{avx512_available, simd_available};

/// x rows per pass over a weight block.
const GROUP: usize = 8;
const LANES: usize = 8;
/// Output features per rayon task.
const FEATURES_PER_TASK: usize = 64;

/// y [m, n] = x [m, k] · W^T, W [n, k] row-major.
pub fn out_in(x: &[f32], w: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
    assert!(x.len() == m * k && w.len() == n * k, "skinny::out_in: shapes do not match");
    // Features-major while computing (each task owns a run of W rows), rows-major at the end.
    let mut yt = vec![0f32; n * m];
    let fast = simd_available();
    // The 512-bit kernel needs every weight row at the same line offset (k % 16 == 0); a
    // single row streams as fast through the AVX2 one (measured).
    let wide = avx512_available() && k % 16 == 0 && m > 1;
    yt.par_chunks_mut(FEATURES_PER_TASK * m).enumerate().for_each(|(task, yt)| {
        let first = task * FEATURES_PER_TASK;
        let rows = &w[first * k..(first + yt.len() / m) * k];
        #[cfg(target_arch = "x86_64")]
        if wide {
            // SAFETY: `avx512_available` checked that this CPU has AVX-512F.
            return unsafe { out_in_avx512(x, rows, m, k, yt) };
        }
        let _ = wide;
        #[cfg(target_arch = "x86_64")]
        if fast {
            // SAFETY: `simd_available` checked that this CPU has AVX2 and FMA.
            return unsafe { out_in_avx2(x, rows, m, k, yt) };
        }
        let _ = fast;
        out_in_body(x, rows, m, k, yt);
    });
    let mut y = vec![0f32; m * n];
    for (j, col) in yt.chunks(m).enumerate() {
        for (i, &v) in col.iter().enumerate() {
            y[i * n + j] = v;
        }
    }
    y
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn out_in_avx2(x: &[f32], w_rows: &[f32], m: usize, k: usize, yt: &mut [f32]) {
    // A few weight rows at a time (they stay in L1), every group of x rows against them:
    // the weight streams from memory once however many rows there are.
    const W_BLOCK: usize = 4;
    for (block, w) in w_rows.chunks(W_BLOCK * k).enumerate() {
        let yt = &mut yt[block * W_BLOCK * m..];
        for g in (0..m).step_by(GROUP) {
            match m - g {
                1 => dots::<1>(x, w, m, k, g, yt),
                2 => dots::<2>(x, w, m, k, g, yt),
                3 => dots::<3>(x, w, m, k, g, yt),
                4 => dots::<4>(x, w, m, k, g, yt),
                5 => dots::<5>(x, w, m, k, g, yt),
                6 => dots::<6>(x, w, m, k, g, yt),
                7 => dots::<7>(x, w, m, k, g, yt),
                _ => dots::<8>(x, w, m, k, g, yt),
            }
        }
    }
}

/// `out_in_avx2` in 512-bit registers, two weight rows at a time: each x load feeds two
/// multiply-adds (one x load per multiply-add left the AVX2 kernel load-bound), every load
/// is aligned (none straddles two cache lines: x is copied to the weight rows' alignment,
/// and the first and last block of each row are masked), and the next pair of weight rows
/// is prefetched while this one is used. Needs `k` a multiple of 16, so that every weight
/// row starts at the same offset within a cache line.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn out_in_avx512(x: &[f32], w_rows: &[f32], m: usize, k: usize, yt: &mut [f32]) {
    const W_BLOCK: usize = 4;
    let xs = AlignedRows::new(x, m, k, (w_rows.as_ptr() as usize % 64) / 4);
    for (block, w) in w_rows.chunks(W_BLOCK * k).enumerate() {
        let yt = &mut yt[block * W_BLOCK * m..];
        for g in (0..m).step_by(GROUP) {
            match m - g {
                1 => pair_dots::<1>(&xs, w, m, k, g, yt),
                2 => pair_dots::<2>(&xs, w, m, k, g, yt),
                3 => pair_dots::<3>(&xs, w, m, k, g, yt),
                4 => pair_dots::<4>(&xs, w, m, k, g, yt),
                5 => pair_dots::<5>(&xs, w, m, k, g, yt),
                6 => pair_dots::<6>(&xs, w, m, k, g, yt),
                7 => pair_dots::<7>(&xs, w, m, k, g, yt),
                _ => pair_dots::<8>(&xs, w, m, k, g, yt),
            }
        }
    }
}

/// Rows of x laid out so that element e of a row sits at the same offset within a 64-byte
/// line as element e of the weight rows (`shift` floats past a line start), zeros around.
struct AlignedRows {
    data: Vec<f32>,
    start: usize,
    stride: usize,
    shift: usize,
}

impl AlignedRows {
    fn new(x: &[f32], m: usize, k: usize, shift: usize) -> Self {
        let stride = (shift + k).div_ceil(16) * 16;
        let mut data = vec![0f32; m * stride + 16];
        let start = (16 - (data.as_ptr() as usize % 64) / 4) % 16;
        for (r, row) in x.chunks_exact(k).enumerate() {
            data[start + r * stride + shift..][..k].copy_from_slice(row);
        }
        AlignedRows { data, start, stride, shift }
    }

    fn row(&self, r: usize) -> *const f32 {
        self.data[self.start + r * self.stride..].as_ptr()
    }
}

/// yt[j * m + g + r] = x_{g+r} . w_j for r < R and every weight row j of `w_rows`, two rows
/// per pass (2R accumulators in registers), over aligned 16-float blocks.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn pair_dots<const R: usize>(xs: &AlignedRows, w_rows: &[f32], m: usize, k: usize, g: usize, yt: &mut [f32]) {
    use std::arch::x86_64::*;
    let blocks = xs.stride / 16;
    // Lanes of the first and last block that hold elements of the row.
    let head: __mmask16 = !0u16 << xs.shift;
    let last = xs.shift + k - (blocks - 1) * 16;
    let tail: __mmask16 = if last == 16 { !0 } else { (1u16 << last) - 1 };
    let mask_of = |b: usize| (if b == 0 { head } else { !0 }) & (if b == blocks - 1 { tail } else { !0 });
    let x: [*const f32; R] = std::array::from_fn(|r| xs.row(g + r));
    let rows = w_rows.len() / k;
    let end = w_rows.as_ptr().add(w_rows.len());
    let mut j = 0;
    while j < rows {
        let pair = (rows - j).min(2);
        // The 64-byte aligned line starts of this pair's rows (before the slice for the
        // first block: only its masked-in lanes are read).
        let w0 = w_rows.as_ptr().add(j * k).wrapping_sub(xs.shift);
        // A lone last row is paired with itself (its second result is dropped).
        let w1 = if pair == 2 { w0.wrapping_add(k) } else { w0 };
        let mut a0 = [_mm512_setzero_ps(); R];
        let mut a1 = [_mm512_setzero_ps(); R];
        for b in 0..blocks {
            let at = b * 16;
            // The next pair's lines at this offset (a hint; none past the end).
            let ahead = w0.wrapping_add(2 * k + at);
            if ahead.wrapping_add(k) < end {
                _mm_prefetch::<_MM_HINT_T0>(ahead as *const i8);
                _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(k) as *const i8);
            }
            let mask = mask_of(b);
            let (v0, v1) = if mask == !0 {
                (_mm512_load_ps(w0.wrapping_add(at)), _mm512_load_ps(w1.wrapping_add(at)))
            } else {
                (_mm512_maskz_loadu_ps(mask, w0.wrapping_add(at)), _mm512_maskz_loadu_ps(mask, w1.wrapping_add(at)))
            };
            for r in 0..R {
                let xv = _mm512_load_ps(x[r].add(at));
                a0[r] = _mm512_fmadd_ps(xv, v0, a0[r]);
                a1[r] = _mm512_fmadd_ps(xv, v1, a1[r]);
            }
        }
        for r in 0..R {
            yt[j * m + g + r] = _mm512_reduce_add_ps(a0[r]);
            if pair == 2 {
                yt[(j + 1) * m + g + r] = _mm512_reduce_add_ps(a1[r]);
            }
        }
        j += pair;
    }
}

/// yt[j * m + g + r] = x_{g+r} . w_j for r < R, with R accumulators held in registers
/// while each weight row streams past once.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn dots<const R: usize>(x: &[f32], w_rows: &[f32], m: usize, k: usize, g: usize, yt: &mut [f32]) {
    use std::arch::x86_64::*;
    let body = k / LANES * LANES;
    let xp = x.as_ptr().add(g * k);
    for (j, w) in w_rows.chunks_exact(k).enumerate() {
        let wp = w.as_ptr();
        let mut acc = [_mm256_setzero_ps(); R];
        let mut at = 0;
        while at < body {
            let wv = _mm256_loadu_ps(wp.add(at));
            for (r, acc) in acc.iter_mut().enumerate() {
                *acc = _mm256_fmadd_ps(_mm256_loadu_ps(xp.add(r * k + at)), wv, *acc);
            }
            at += LANES;
        }
        for (r, acc) in acc.iter().enumerate() {
            let mut lanes = [0f32; LANES];
            _mm256_storeu_ps(lanes.as_mut_ptr(), *acc);
            let tail: f32 = (body..k).map(|e| *xp.add(r * k + e) * w[e]).sum();
            yt[j * m + g + r] = lanes.iter().sum::<f32>() + tail;
        }
    }
}

/// yt[j * m + i] = x_i . w_j for the W rows given.
#[inline(always)]
fn out_in_body(x: &[f32], w_rows: &[f32], m: usize, k: usize, yt: &mut [f32]) {
    let body = k / LANES * LANES;
    for (j, w) in w_rows.chunks_exact(k).enumerate() {
        for g in (0..m).step_by(GROUP) {
            let rows = GROUP.min(m - g);
            let mut acc = [[0f32; LANES]; GROUP];
            for at in (0..body).step_by(LANES) {
                let wv: &[f32; LANES] = w[at..at + LANES].try_into().unwrap();
                for (r, acc) in acc.iter_mut().enumerate().take(rows) {
                    let xv: &[f32; LANES] = x[(g + r) * k + at..][..LANES].try_into().unwrap();
                    for l in 0..LANES {
                        acc[l] += xv[l] * wv[l];
                    }
                }
            }
            for (r, acc) in acc.iter().enumerate().take(rows) {
                let xr = &x[(g + r) * k..(g + r + 1) * k];
                let tail: f32 = (body..k).map(|e| xr[e] * w[e]).sum();
                yt[j * m + g + r] = acc.iter().sum::<f32>() + tail;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: u32) -> Vec<f32> {
        (0..n).map(|i| (((i as u32).wrapping_mul(2654435761).wrapping_add(seed) >> 16) % 200) as f32 / 100.0 - 1.0).collect()
    }

    #[test]
    fn both_layouts_match_a_plain_product_for_any_rows_and_ragged_sizes() {
        for (m, k, n) in [(1, 16, 7), (3, 37, 130), (8, 64, 64), (11, 100, 257), (32, 24, 65), (5, 48, 33), (16, 576, 41), (13, 32, 1)] {
            let (x, w) = (values(m * k, 1), values(n * k, 2));
            let expected: Vec<f32> = (0..m * n).map(|at| (0..k).map(|e| x[(at / n) * k + e] * w[(at % n) * k + e]).sum()).collect();
            for (g, e) in out_in(&x, &w, m, k, n).iter().zip(&expected) {
                assert!((g - e).abs() <= 1e-4 * (1.0 + e.abs()), "{m}x{k}x{n}: {g} vs {e}");
            }
        }
    }
}

//! Products of a few rows (a decode step: one row per sequence) with a weight matrix, in
//! one streaming pass over the weight. gemm packs its right operand on every call, which
//! for a handful of rows costs more than the product itself; here each weight element is
//! read once and used for every row, so a decode step runs at the rate the weights stream
//! from memory.
//!
//! `out_in`: y [m, n] = x [m, k] W^T for W [n, k] (Linear). `in_out`: y = x W for W [k, n]
//! (Conv1D). Rows of x are taken up to `GROUP` at a time; work is split over the weight's
//! output features.

use rayon::prelude::*;

use super::simd_available;

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
    yt.par_chunks_mut(FEATURES_PER_TASK * m).enumerate().for_each(|(task, yt)| {
        let first = task * FEATURES_PER_TASK;
        let rows = &w[first * k..(first + yt.len() / m) * k];
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

/// Output features per block of `in_out`'s accumulators (two AVX2 registers per row).
const BLOCK: usize = 16;

/// y [m, n] = x [m, k] · W, W [k, n] row-major.
pub fn in_out(x: &[f32], w: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
    assert!(x.len() == m * k && w.len() == k * n, "skinny::in_out: shapes do not match");
    let blocks = n.div_ceil(BLOCK);
    let fast = simd_available();
    // Each task computes whole blocks of output features for every row, features-major.
    let per_task = (FEATURES_PER_TASK / BLOCK).max(1);
    let parts: Vec<Vec<f32>> = (0..blocks.div_ceil(per_task))
        .into_par_iter()
        .map(|task| {
            let (first, last) = (task * per_task * BLOCK, ((task + 1) * per_task * BLOCK).min(n));
            let mut out = vec![0f32; m * (last - first)];
            #[cfg(target_arch = "x86_64")]
            if fast {
                // SAFETY: as in `out_in`.
                unsafe { in_out_avx2(x, w, m, k, n, first, last, &mut out) };
                return out;
            }
            let _ = fast;
            in_out_body(x, w, m, k, n, first, last, &mut out);
            out
        })
        .collect();
    let mut y = vec![0f32; m * n];
    for (task, part) in parts.iter().enumerate() {
        let first = task * per_task * BLOCK;
        let width = part.len() / m;
        for i in 0..m {
            y[i * n + first..i * n + first + width].copy_from_slice(&part[i * width..(i + 1) * width]);
        }
    }
    y
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn in_out_avx2(x: &[f32], w: &[f32], m: usize, k: usize, n: usize, first: usize, last: usize, out: &mut [f32]) {
    in_out_body(x, w, m, k, n, first, last, out)
}

/// out [m, last - first] = x · W[:, first..last].
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn in_out_body(x: &[f32], w: &[f32], m: usize, k: usize, n: usize, first: usize, last: usize, out: &mut [f32]) {
    let width = last - first;
    for start in (first..last).step_by(BLOCK) {
        let cols = BLOCK.min(last - start);
        for g in (0..m).step_by(GROUP) {
            let rows = GROUP.min(m - g);
            let mut acc = [[0f32; BLOCK]; GROUP];
            if cols == BLOCK {
                for e in 0..k {
                    let wv: &[f32; BLOCK] = w[e * n + start..][..BLOCK].try_into().unwrap();
                    for (r, acc) in acc.iter_mut().enumerate().take(rows) {
                        let xv = x[(g + r) * k + e];
                        for l in 0..BLOCK {
                            acc[l] += xv * wv[l];
                        }
                    }
                }
            } else {
                for e in 0..k {
                    for (r, acc) in acc.iter_mut().enumerate().take(rows) {
                        let xv = x[(g + r) * k + e];
                        for l in 0..cols {
                            acc[l] += xv * w[e * n + start + l];
                        }
                    }
                }
            }
            for (r, acc) in acc.iter().enumerate().take(rows) {
                let at = (g + r) * width + (start - first);
                out[at..at + cols].copy_from_slice(&acc[..cols]);
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
        for (m, k, n) in [(1, 16, 7), (3, 37, 130), (8, 64, 64), (11, 100, 257), (32, 24, 65)] {
            let (x, w) = (values(m * k, 1), values(n * k, 2));
            let expected: Vec<f32> = (0..m * n).map(|at| (0..k).map(|e| x[(at / n) * k + e] * w[(at % n) * k + e]).sum()).collect();
            let w_in_out: Vec<f32> = (0..k * n).map(|at| w[(at % n) * k + at / n]).collect();
            for (got, name) in [(out_in(&x, &w, m, k, n), "out_in"), (in_out(&x, &w_in_out, m, k, n), "in_out")] {
                for (g, e) in got.iter().zip(&expected) {
                    assert!((g - e).abs() <= 1e-4 * (1.0 + e.abs()), "{name} {m}x{k}x{n}: {g} vs {e}");
                }
            }
        }
    }
}

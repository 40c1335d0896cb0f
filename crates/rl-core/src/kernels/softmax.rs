//! The softmax over a vocabulary row that the loss head and scoring need, in f32 with a
//! vectorized exp (real.rs's `exp_f32`, within 2 ulp) and eight partial sums, where the
//! library exp is one call per element: the statistics of softmax(z) for z = logits / T,
//! and its gradient row.

use super::real::exp_f32;
use super::simd_available;

const LANES: usize = 8;

/// (log-sum-exp of z, sum_v p_v z_v) for z = row / T (`inv` = 1 / T); sums in f64 across lanes.
pub fn stats(row: &[f32], inv: f32) -> (f64, f64) {
    #[cfg(target_arch = "x86_64")]
    if simd_available() {
        // SAFETY: `simd_available` checked that this CPU has AVX2 and FMA.
        return unsafe { stats_avx2(row, inv) };
    }
    stats_body(row, inv)
}

/// row[v] = -coef * exp(z_v - lse): the gradient of coef * log p_target with respect to the
/// logits, but for the target's +coef, which the caller adds.
pub fn gradient(row: &mut [f32], inv: f32, lse: f32, coef: f32) {
    #[cfg(target_arch = "x86_64")]
    if simd_available() {
        // SAFETY: as in `stats`.
        return unsafe { gradient_avx2(row, inv, lse, coef) };
    }
    gradient_body(row, inv, lse, coef)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn stats_avx2(row: &[f32], inv: f32) -> (f64, f64) {
    stats_body(row, inv)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn gradient_avx2(row: &mut [f32], inv: f32, lse: f32, coef: f32) {
    gradient_body(row, inv, lse, coef)
}

#[inline(always)]
fn stats_body(row: &[f32], inv: f32) -> (f64, f64) {
    let mut maxes = [f32::NEG_INFINITY; LANES];
    let (chunks, tail) = row.split_at(row.len() / LANES * LANES);
    for c in chunks.chunks_exact(LANES) {
        for (m, &x) in maxes.iter_mut().zip(c) {
            *m = m.max(x);
        }
    }
    let max = tail.iter().chain(&maxes).fold(f32::NEG_INFINITY, |m, &x| m.max(x)) * inv;
    let (mut sums, mut weighted) = ([0f32; LANES], [0f32; LANES]);
    for c in chunks.chunks_exact(LANES) {
        for l in 0..LANES {
            let z = c[l] * inv;
            let e = exp_f32(z - max);
            sums[l] += e;
            weighted[l] += e * (z - max);
        }
    }
    let (mut sum, mut sum_weighted): (f64, f64) = (sums.iter().map(|&s| s as f64).sum(), weighted.iter().map(|&s| s as f64).sum());
    for &x in tail {
        let z = x * inv;
        let e = exp_f32(z - max) as f64;
        sum += e;
        sum_weighted += e * (z - max) as f64;
    }
    // sum p z = max + sum e (z - max) / sum e: the shifted form keeps the products small.
    let lse = max as f64 + sum.ln();
    (lse, max as f64 + sum_weighted / sum)
}

/// exp((x - max) / T) of every logit (`inv` = 1 / T): softmax's weights, unnormalized, the
/// largest 1.
pub fn relative_weights(row: &[f32], inv: f32) -> Vec<f32> {
    #[cfg(target_arch = "x86_64")]
    if simd_available() {
        // SAFETY: as in `stats`.
        return unsafe { relative_weights_avx2(row, inv) };
    }
    relative_weights_body(row, inv)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn relative_weights_avx2(row: &[f32], inv: f32) -> Vec<f32> {
    relative_weights_body(row, inv)
}

#[inline(always)]
fn relative_weights_body(row: &[f32], inv: f32) -> Vec<f32> {
    let max = row.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
    row.iter().map(|&x| exp_f32((x - max) * inv)).collect()
}

#[inline(always)]
fn gradient_body(row: &mut [f32], inv: f32, lse: f32, coef: f32) {
    for x in row.iter_mut() {
        *x = -coef * exp_f32(*x * inv - lse);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_and_gradient_match_a_plain_f64_softmax() {
        let row: Vec<f32> = (0..1003).map(|i| ((i * 7919 % 1000) as f32 / 100.0 - 5.0) * if i % 3 == 0 { 2.0 } else { 1.0 }).collect();
        let inv = 1.0 / 0.7;
        let z: Vec<f64> = row.iter().map(|&x| x as f64 * inv as f64).collect();
        let max = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lse = max + z.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
        let expected: f64 = z.iter().map(|v| (v - lse).exp() * v).sum();
        let (got_lse, got_expected) = stats(&row, inv);
        assert!((got_lse - lse).abs() < 1e-5, "{got_lse} vs {lse}");
        assert!((got_expected - expected).abs() < 1e-4, "{got_expected} vs {expected}");
        let weights = relative_weights(&row, inv);
        for (w, v) in weights.iter().zip(&z) {
            let want = (v - max).exp();
            assert!((*w as f64 - want).abs() <= 1e-6 * want.max(1e-30) + 1e-12, "{w} vs {want}");
        }
        let mut grad = row.clone();
        gradient(&mut grad, inv, lse as f32, 0.5);
        for (g, v) in grad.iter().zip(&z) {
            let want = -0.5 * (v - lse).exp();
            assert!((*g as f64 - want).abs() <= 1e-6 + 1e-5 * want.abs(), "{g} vs {want}");
        }
    }
}

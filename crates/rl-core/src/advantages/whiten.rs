//! Masked whitening: (x - mean) / sqrt(var_unbiased + eps) over the masked positions.

use super::layout::check_output;

/// Added to the variance before the square root, as in ALGORITHMS.md section 2.
pub const WHITEN_EPS: f64 = 1e-8;

/// Returns a whitened copy of `values`. Statistics use only positions where `mask` is 1
/// (all positions when `mask` is `None`); positions outside the mask come back as 0, so
/// they can never leak into a loss.
pub fn whiten(values: &[f32], mask: Option<&[u8]>) -> crate::error::Result<Vec<f32>> {
    let mut out = vec![0f32; values.len()];
    whiten_into(values, mask, &mut out)?;
    Ok(out)
}

/// `whiten` into a buffer the caller owns (one element per value), allocating nothing.
pub fn whiten_into(values: &[f32], mask: Option<&[u8]>, out: &mut [f32]) -> crate::error::Result<()> {
    if let Some(m) = mask {
        crate::error::check_len("mask", m.len(), "values", values.len())?;
    }
    check_output("out", out.len(), values.len())?;
    let (mean, inv_std) = statistics(values, mask);
    for (i, (o, &v)) in out.iter_mut().zip(values).enumerate() {
        *o = whitened(v, selected(mask, i), mean, inv_std);
    }
    Ok(())
}

pub(crate) fn whiten_in_place(values: &mut [f32], mask: Option<&[u8]>) {
    let (mean, inv_std) = statistics(values, mask);
    for (i, v) in values.iter_mut().enumerate() {
        *v = whitened(*v, selected(mask, i), mean, inv_std);
    }
}

#[inline(always)]
fn selected(mask: Option<&[u8]>, i: usize) -> bool {
    mask.map_or(true, |m| m[i] != 0)
}

#[inline(always)]
fn whitened(v: f32, selected: bool, mean: f64, inv_std: f64) -> f32 {
    if selected {
        ((v as f64 - mean) * inv_std) as f32
    } else {
        0.0
    }
}

/// Mean and 1 / sqrt(unbiased variance + eps) of the selected values.
fn statistics(values: &[f32], mask: Option<&[u8]>) -> (f64, f64) {
    let (mut count, mut sum) = (0usize, 0f64);
    for (i, &v) in values.iter().enumerate() {
        if selected(mask, i) {
            count += 1;
            sum += v as f64;
        }
    }
    let mean = if count > 0 { sum / count as f64 } else { 0.0 };
    let mut sq = 0f64;
    for (i, &v) in values.iter().enumerate() {
        if selected(mask, i) {
            sq += (v as f64 - mean).powi(2);
        }
    }
    let var = if count > 1 { sq / (count - 1) as f64 } else { 0.0 };
    (mean, 1.0 / (var + WHITEN_EPS).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitened_values_have_zero_mean_unit_sample_std() {
        let out = whiten(&[1.0, 2.0, 3.0, 100.0], Some(&[1, 1, 1, 0])).unwrap();
        assert!((out[0] + 1.0).abs() < 1e-5 && out[1].abs() < 1e-6 && (out[2] - 1.0).abs() < 1e-5);
        assert_eq!(out[3], 0.0);
    }
}

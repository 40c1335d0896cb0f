//! Masked whitening: (x - mean) / sqrt(var_unbiased + eps) over the masked positions.

/// Added to the variance before the square root, as in ALGORITHMS.md section 2.
pub const WHITEN_EPS: f64 = 1e-8;

/// Returns a whitened copy of `values`. Statistics use only positions where `mask` is 1
/// (all positions when `mask` is `None`); positions outside the mask come back as 0, so
/// they can never leak into a loss.
pub fn whiten(values: &[f32], mask: Option<&[u8]>) -> crate::error::Result<Vec<f32>> {
    if let Some(m) = mask {
        crate::error::check_len("mask", m.len(), "values", values.len())?;
    }
    let mut out = values.to_vec();
    whiten_in_place(&mut out, mask);
    Ok(out)
}

pub(crate) fn whiten_in_place(values: &mut [f32], mask: Option<&[u8]>) {
    let selected = |i: usize| mask.map_or(true, |m| m[i] != 0);
    let (mut count, mut sum) = (0usize, 0f64);
    for (i, &v) in values.iter().enumerate() {
        if selected(i) {
            count += 1;
            sum += v as f64;
        }
    }
    let mean = if count > 0 { sum / count as f64 } else { 0.0 };
    let mut sq = 0f64;
    for (i, &v) in values.iter().enumerate() {
        if selected(i) {
            sq += (v as f64 - mean).powi(2);
        }
    }
    let var = if count > 1 { sq / (count - 1) as f64 } else { 0.0 };
    let inv_std = 1.0 / (var + WHITEN_EPS).sqrt();
    for (i, v) in values.iter_mut().enumerate() {
        *v = if selected(i) { ((*v as f64 - mean) * inv_std) as f32 } else { 0.0 };
    }
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

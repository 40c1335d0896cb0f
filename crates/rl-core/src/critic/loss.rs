//! The clipped value loss of PPO, with its gradient with respect to each predicted value:
//!
//! ```text
//! v_clip = v_old + clip(v - v_old, -c, c)
//! l_t    = 0.5 * max((v - R)^2, (v_clip - R)^2)
//! ```
//!
//! token-mean over the loss tokens of the whole optimizer batch. The clipped branch keeps a
//! new prediction from moving more than c away from the value the rollout was scored with
//! (its gradient is 0 once it takes over); without a clip range the loss is 0.5 * (v - R)^2.

use crate::error::{check_len, CoreError, ErrorCode, Result};

/// Flat arrays over the loss tokens (one value per token).
pub struct ValueLossInput<'a> {
    /// The critic's predictions.
    pub values: &'a [f32],
    /// The regression targets (GAE returns).
    pub returns: &'a [f32],
    /// The predictions the rollout was scored with; required with `clip`.
    pub old_values: Option<&'a [f32]>,
    /// The clip range c (vfClip); `None` does not clip.
    pub clip: Option<f64>,
    /// Loss tokens of the whole optimizer batch (the token-mean denominator); `None` uses
    /// `values.len()`. Micro-batches given the batch's count add up to the batch's loss.
    pub tokens: Option<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ValueLossOutput {
    pub loss: f64,
    /// d loss / d values.
    pub grad: Vec<f32>,
    /// Tokens whose clipped term was the larger one (no gradient).
    pub clipped: usize,
    /// Sums over this call's tokens, for means over a batch.
    pub value_sum: f64,
    pub return_sum: f64,
    pub tokens: usize,
}

pub fn compute_value_loss(input: &ValueLossInput) -> Result<ValueLossOutput> {
    let n = input.values.len();
    check_len("returns", input.returns.len(), "values", n)?;
    if let Some(old) = input.old_values {
        check_len("oldValues", old.len(), "values", n)?;
    }
    let old = match (input.clip, input.old_values) {
        (Some(c), _) if !(c.is_finite() && c > 0.0) => return Err(invalid(format!("vfClip must be a finite number > 0, got {c}"))),
        (Some(_), None) => return Err(CoreError::new(ErrorCode::InvalidArgument, "oldValues is required by vfClip; pass the values the rollout was scored with")),
        (_, old) => old,
    };
    let total = input.tokens.unwrap_or(n);
    if total < n {
        return Err(invalid(format!("tokens ({total}) must count the loss tokens of the whole batch, at least this call's {n}")));
    }
    // Predictions are not checked: a diverged critic gives a non-finite loss, and the step
    // that sees it is skipped. Targets are the caller's, and must be finite.
    for (name, values) in [("returns", Some(input.returns)), ("oldValues", old)] {
        if let Some(i) = values.and_then(|v| v.iter().position(|x| !x.is_finite())) {
            return Err(CoreError::new(ErrorCode::NonFinite, format!("{name}[{i}] is {}; the value loss reads only finite numbers", values.unwrap()[i])));
        }
    }
    let weight = if total == 0 { 0.0 } else { 1.0 / total as f64 };
    let mut out = ValueLossOutput { loss: 0.0, grad: vec![0.0; n], clipped: 0, value_sum: 0.0, return_sum: 0.0, tokens: n };
    for t in 0..n {
        let (v, r) = (input.values[t] as f64, input.returns[t] as f64);
        let mut term = 0.5 * (v - r).powi(2);
        let mut dterm = v - r;
        if let (Some(c), Some(old)) = (input.clip, old) {
            let o = old[t] as f64;
            let clipped = o + (v - o).clamp(-c, c);
            let clipped_term = 0.5 * (clipped - r).powi(2);
            if clipped_term > term {
                // v_clip sits at a bound, which does not move with v.
                term = clipped_term;
                dterm = 0.0;
                out.clipped += 1;
            }
        }
        out.loss += weight * term;
        out.grad[t] = (weight * dterm) as f32;
        out.value_sum += v;
        out.return_sum += r;
    }
    Ok(out)
}

fn invalid(message: String) -> CoreError {
    CoreError::new(ErrorCode::InvalidParameter, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::weights::SplitMix64;

    fn run(values: &[f32], returns: &[f32], old: &[f32], clip: Option<f64>) -> ValueLossOutput {
        compute_value_loss(&ValueLossInput { values, returns, old_values: Some(old), clip, tokens: None }).unwrap()
    }

    #[test]
    fn vector() {
        // t0 inside the clip range; t1 clipped to 0.4, whose error is the larger; t2 clipped
        // to 0.0, whose error is the smaller, so the unclipped term stays.
        let out = run(&[1.0, 0.5, -0.2], &[0.8, 1.0, 0.0], &[0.9, 0.2, 0.2], Some(0.2));
        assert!((out.loss - 0.22 / 3.0).abs() < 1e-7, "{}", out.loss);
        for (g, want) in out.grad.iter().zip([0.2 / 3.0, 0.0, -0.2 / 3.0]) {
            assert!((*g as f64 - want).abs() < 1e-7, "{:?}", out.grad);
        }
        assert_eq!(out.clipped, 1);
        let plain = run(&[1.0, 0.5, -0.2], &[0.8, 1.0, 0.0], &[0.9, 0.2, 0.2], None);
        assert!((plain.loss - (0.02 + 0.125 + 0.02) / 3.0).abs() < 1e-7);
        assert_eq!(plain.clipped, 0);
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let mut rng = SplitMix64(3);
        let mut u = |lo: f64, hi: f64| (lo + (hi - lo) * rng.uniform()) as f32;
        let n = 64;
        let old: Vec<f32> = (0..n).map(|_| u(-1.0, 1.0)).collect();
        let values: Vec<f32> = old.iter().map(|&o| o + u(-0.6, 0.6)).collect();
        let returns: Vec<f32> = (0..n).map(|_| u(-1.5, 1.5)).collect();
        let clip = 0.2;
        let mut clipped = 0;
        for tokens in [None, Some(100)] {
            let loss = |values: &[f32]| compute_value_loss(&ValueLossInput { values, returns: &returns, old_values: Some(&old), clip: Some(clip), tokens }).unwrap();
            let out = loss(&values);
            clipped += out.clipped;
            let h = 1e-3f32;
            for t in 0..n {
                // Away from the kinks: the clip bounds and where the two terms are equal.
                let (v, o, r) = (values[t] as f64, old[t] as f64, returns[t] as f64);
                let bound = o + (v - o).clamp(-clip, clip);
                if ((v - o).abs() - clip).abs() < 0.01 || ((v - r).abs() - (bound - r).abs()).abs() < 0.01 {
                    continue;
                }
                let (mut up, mut down) = (values.clone(), values.clone());
                up[t] += h;
                down[t] -= h;
                let fd = (loss(&up).loss - loss(&down).loss) / (up[t] - down[t]) as f64;
                let g = out.grad[t] as f64;
                assert!((g - fd).abs() <= 1e-7 + 1e-3 * fd.abs().max(g.abs()), "token {t}: analytic {g} vs finite difference {fd}");
            }
        }
        assert!(clipped > 0, "the case must visit the clipped branch");
    }

    #[test]
    fn micro_batches_with_the_batch_token_count_add_up() {
        let (values, returns, old) = ([0.3f32, -0.4, 1.2, 0.1, 0.0], [0.5f32, 0.5, 0.5, -1.0, 2.0], [0.2f32, 0.0, 0.9, 0.1, 0.3]);
        let whole = run(&values, &returns, &old, Some(0.2));
        let part = |r: std::ops::Range<usize>| {
            compute_value_loss(&ValueLossInput { values: &values[r.clone()], returns: &returns[r.clone()], old_values: Some(&old[r]), clip: Some(0.2), tokens: Some(5) }).unwrap()
        };
        let (a, b) = (part(0..2), part(2..5));
        assert!((a.loss + b.loss - whole.loss).abs() < 1e-12);
        assert_eq!([a.grad, b.grad].concat(), whole.grad);
    }

    #[test]
    fn rejects_bad_input() {
        let e = compute_value_loss(&ValueLossInput { values: &[1.0], returns: &[1.0], old_values: None, clip: Some(0.2), tokens: None }).unwrap_err();
        assert!(e.message.contains("oldValues is required"), "{}", e.message);
        let e = compute_value_loss(&ValueLossInput { values: &[1.0], returns: &[f32::NAN], old_values: None, clip: None, tokens: None }).unwrap_err();
        assert_eq!((e.code, e.message.starts_with("returns[0] is NaN")), (ErrorCode::NonFinite, true));
        let e = compute_value_loss(&ValueLossInput { values: &[1.0, 2.0], returns: &[1.0], old_values: None, clip: None, tokens: None }).unwrap_err();
        assert_eq!(e.code, ErrorCode::LengthMismatch);
        let e = compute_value_loss(&ValueLossInput { values: &[1.0], returns: &[1.0], old_values: Some(&[1.0]), clip: Some(-1.0), tokens: None }).unwrap_err();
        assert!(e.message.contains("vfClip"));
    }
}

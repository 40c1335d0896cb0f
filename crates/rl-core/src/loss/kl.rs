//! Per-token estimators of KL(policy || reference), with their derivatives.

use super::config::KlEstimator;

/// Log-ratios are clamped to this before `exp`, so one bad token cannot overflow.
pub const LOG_RATIO_CLAMP: f64 = 20.0;

/// The estimate at one token and its derivative with respect to `logp`.
pub fn kl_term(estimator: KlEstimator, logp: f64, ref_logp: f64) -> (f64, f64) {
    let raw = ref_logp - logp;
    let d = raw.clamp(-LOG_RATIO_CLAMP, LOG_RATIO_CLAMP);
    // Outside the clamp the estimate no longer depends on logp.
    let dd_dlogp = if d == raw { -1.0 } else { 0.0 };
    match estimator {
        KlEstimator::K1 => (-d, -dd_dlogp),
        KlEstimator::K2 => (d * d / 2.0, d * dd_dlogp),
        KlEstimator::K3 => {
            let e = d.exp();
            (e - d - 1.0, (e - 1.0) * dd_dlogp)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors() {
        // ALGORITHMS.md section 7: logp = -1, logp_ref = -1.5.
        let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        close(kl_term(KlEstimator::K1, -1.0, -1.5).0, 0.5);
        close(kl_term(KlEstimator::K2, -1.0, -1.5).0, 0.125);
        close(kl_term(KlEstimator::K3, -1.0, -1.5).0, 0.106531);
    }

    #[test]
    fn clamped_terms_have_no_gradient() {
        for e in [KlEstimator::K1, KlEstimator::K2, KlEstimator::K3] {
            let (value, grad) = kl_term(e, -40.0, 0.0);
            assert!(value.is_finite());
            assert_eq!(grad, 0.0);
        }
    }
}

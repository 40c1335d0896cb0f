//! Vectors of ALGORITHMS.md section 7, finite-difference checks of the analytic gradient
//! for every loss, aggregation and KL estimator, and micro-batch accumulation.

use super::*;
use crate::error::ErrorCode;

const AGGREGATIONS: [Aggregation; 4] =
    [Aggregation::TokenMean, Aggregation::SeqMeanTokenMean, Aggregation::SeqMeanTokenSum, Aggregation::SeqMeanTokenSumNorm];
const ESTIMATORS: [KlEstimator; 3] = [KlEstimator::K1, KlEstimator::K2, KlEstimator::K3];

/// A deterministic xorshift generator: uniform in [lo, hi).
struct Rng(u64);
impl Rng {
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        lo + (hi - lo) * ((self.0 >> 11) as f64 / (1u64 << 53) as f64)
    }
}

struct Case {
    logprobs: Vec<f32>,
    old: Vec<f32>,
    reference: Vec<f32>,
    advantages: Vec<f32>,
    mask: Vec<u8>,
    offsets: Vec<i32>,
}

impl Case {
    fn input(&self) -> LossInput<'_> {
        LossInput {
            logprobs: &self.logprobs,
            old_logprobs: Some(&self.old),
            ref_logprobs: Some(&self.reference),
            advantages: Some(&self.advantages),
            mask: &self.mask,
            offsets: Some(&self.offsets),
            normalizer: None,
        }
    }
}

/// Five sequences (one fully masked) with token log-ratios spread over [-spread, spread]
/// around a per-sequence shift, so that every clip region is visited.
fn random_case(seed: u64, spread: f64, per_sequence_advantages: bool) -> Case {
    let mut rng = Rng(seed);
    let lengths = [6usize, 3, 4, 7, 5];
    let mut c = Case { logprobs: vec![], old: vec![], reference: vec![], advantages: vec![], mask: vec![], offsets: vec![0] };
    for (k, &n) in lengths.iter().enumerate() {
        let shift = rng.uniform(-spread, spread);
        let seq_adv = rng.uniform(-1.0, 1.0) as f32;
        for t in 0..n {
            let old = rng.uniform(-3.0, -0.1) as f32;
            c.old.push(old);
            c.logprobs.push(old + (shift + rng.uniform(-spread, spread) / 2.0) as f32);
            c.reference.push(old + rng.uniform(-1.0, 1.0) as f32);
            c.mask.push(u8::from(k != 2 && t != 1));
            if !per_sequence_advantages {
                c.advantages.push(rng.uniform(-1.0, 1.0) as f32);
            }
        }
        if per_sequence_advantages {
            c.advantages.push(seq_adv);
        }
        c.offsets.push(c.logprobs.len() as i32);
    }
    c
}

fn loss_at(case: &Case, config: &LossConfig, t: usize, value: f32) -> f64 {
    let mut logprobs = case.logprobs.clone();
    logprobs[t] = value;
    compute_policy_loss(&LossInput { logprobs: &logprobs, ..case.input() }, config).unwrap().loss
}

/// Central differences of the case's loss against `grad`, relative error <= 1e-3. Cases
/// come from `smooth_case`, so that no probe straddles a kink of the clipped objective.
fn check_gradient(case: &Case, config: &LossConfig, grad: &[f32], what: &str) {
    let h = 1e-3f32;
    for (t, &g) in grad.iter().enumerate() {
        let (plus, minus) = (case.logprobs[t] + h, case.logprobs[t] - h);
        let fd = (loss_at(case, config, t, plus) - loss_at(case, config, t, minus)) / (plus as f64 - minus as f64);
        let g = g as f64;
        assert!((g - fd).abs() <= 1e-9 + 1e-3 * fd.abs().max(g.abs()), "{what}: token {t}: analytic {g} vs finite difference {fd}");
    }
}

/// True when some ratio the loss clips lies within `margin` (in log space) of a clip
/// boundary, where a finite difference would straddle the kink.
fn near_kink(case: &Case, config: &LossConfig, margin: f64) -> bool {
    let mut bounds = vec![(1.0 - config.eps_low).ln(), (1.0 + config.eps_high).ln()];
    bounds.extend(config.dual_clip.map(f64::ln));
    let log_ratios: Vec<f64> = match config.kind {
        LossKind::TokenClip => (0..case.logprobs.len()).map(|t| (case.logprobs[t] - case.old[t]) as f64).collect(),
        _ => case.offsets.windows(2).filter_map(|w| sequence_log_ratio(case, w[0] as usize, w[1] as usize)).collect(),
    };
    log_ratios.iter().any(|lr| bounds.iter().any(|b| (lr - b).abs() < margin))
}

fn sequence_log_ratio(case: &Case, start: usize, end: usize) -> Option<f64> {
    let tokens: Vec<usize> = (start..end).filter(|&t| case.mask[t] != 0).collect();
    let sum: f64 = tokens.iter().map(|&t| (case.logprobs[t] - case.old[t]) as f64).sum();
    (!tokens.is_empty()).then(|| sum / tokens.len() as f64)
}

/// The first seeded case that stays clear of every kink.
fn smooth_case(seed: u64, spread: f64, per_sequence: bool, config: &LossConfig) -> Case {
    (seed..seed + 1000)
        .map(|s| random_case(s, spread, per_sequence))
        .find(|c| !near_kink(c, config, 0.01))
        .expect("a case clear of the clip boundaries")
}

fn config(kind: LossKind, aggregation: Aggregation, kl: KlEstimator) -> LossConfig {
    LossConfig { aggregation, kl_estimator: kl, beta: 0.3, ..LossConfig::new(kind) }
}

#[test]
fn token_clip_gradient_matches_finite_differences_in_every_region() {
    let (mut low, mut high, mut dual) = (0.0, 0.0, 0.0);
    for aggregation in AGGREGATIONS {
        for kl in ESTIMATORS {
            let cfg = LossConfig { dual_clip: Some(3.0), ..config(LossKind::TokenClip, aggregation, kl) };
            for seed in [1, 2000, 4000] {
                let case = smooth_case(seed, 1.4, false, &cfg);
                let out = compute_policy_loss(&case.input(), &cfg).unwrap();
                check_gradient(&case, &cfg, &out.grad, &format!("token_clip {aggregation:?} {kl:?}"));
                low += out.metrics.clip_frac_low;
                high += out.metrics.clip_frac_high;
                dual += out.metrics.dual_clip_frac;
            }
        }
    }
    assert!(low > 0.0 && high > 0.0 && dual > 0.0, "the cases must visit every clipped region");
}

#[test]
fn gspo_gradient_matches_finite_differences() {
    let mut clipped = 0.0;
    for kl in ESTIMATORS {
        let cfg = LossConfig { eps_low: 0.05, eps_high: 0.05, ..config(LossKind::Gspo, Aggregation::SeqMeanTokenMean, kl) };
        for seed in [7, 3000] {
            let case = smooth_case(seed, 0.15, true, &cfg);
            let out = compute_policy_loss(&case.input(), &cfg).unwrap();
            check_gradient(&case, &cfg, &out.grad, &format!("gspo {kl:?}"));
            clipped += out.metrics.clip_frac;
        }
    }
    assert!(clipped > 0.0, "the cases must visit the clipped region");
}

#[test]
fn gspo_token_equals_gspo_with_sequence_advantages() {
    for aggregation in AGGREGATIONS {
        let cfg = LossConfig { eps_low: 0.05, eps_high: 0.05, aggregation, ..config(LossKind::GspoToken, aggregation, KlEstimator::K3) };
        let case = smooth_case(11, 0.15, true, &cfg);
        let token = compute_policy_loss(&case.input(), &cfg).unwrap();
        // The value of GSPO-token is GSPO's, so the finite differences of its value are
        // GSPO's gradient, which GSPO-token matches when A_i is constant per sequence.
        check_gradient(&case, &cfg, &token.grad, &format!("gspo_token {aggregation:?}"));
        if aggregation == Aggregation::SeqMeanTokenMean {
            let gspo = compute_policy_loss(&case.input(), &LossConfig { kind: LossKind::Gspo, ..cfg.clone() }).unwrap();
            assert!((gspo.loss - token.loss).abs() < 1e-12);
        }
    }
}

#[test]
fn gspo_token_gradient_is_the_stop_gradient_surrogate() {
    // With per-token advantages, GSPO-token is the token surrogate with ratio
    // sg[s_i] * p_t / sg[p_t], i.e. token_clip against old' = logp - log s_i (held fixed).
    for aggregation in AGGREGATIONS {
        let cfg = LossConfig { eps_low: 0.05, eps_high: 0.05, ..config(LossKind::GspoToken, aggregation, KlEstimator::K2) };
        let case = smooth_case(21, 0.15, false, &cfg);
        let out = compute_policy_loss(&case.input(), &cfg).unwrap();
        let mut anchored = Case { old: case.logprobs.clone(), ..random_case(21, 0.15, false) };
        for w in case.offsets.windows(2) {
            let log_s = sequence_log_ratio(&case, w[0] as usize, w[1] as usize).unwrap_or(0.0);
            for t in w[0] as usize..w[1] as usize {
                anchored.old[t] = (case.logprobs[t] as f64 - log_s) as f32;
            }
        }
        assert_eq!(anchored.logprobs, case.logprobs);
        let token_cfg = LossConfig { kind: LossKind::TokenClip, ..cfg.clone() };
        check_gradient(&anchored, &token_cfg, &out.grad, &format!("gspo_token per-token {aggregation:?}"));
    }
}

#[test]
fn sft_gradient_matches_finite_differences() {
    for aggregation in AGGREGATIONS {
        for kl in ESTIMATORS {
            let cfg = config(LossKind::Sft, aggregation, kl);
            let case = random_case(5, 0.5, false);
            let out = compute_policy_loss(&case.input(), &cfg).unwrap();
            check_gradient(&case, &cfg, &out.grad, &format!("sft {aggregation:?} {kl:?}"));
        }
    }
}

/// CISPO's gradient is that of its value with the weight held constant. Moving logp_t and
/// old_t together by h keeps r_t (so the weight) fixed, so the central difference of the
/// loss along that move is exactly the stop-gradient derivative, KL term included.
fn check_stop_gradient(case: &Case, config: &LossConfig, grad: &[f32], what: &str) {
    let h = 1e-3f32;
    let at = |t: usize, step: f32| {
        let (mut logprobs, mut old) = (case.logprobs.clone(), case.old.clone());
        logprobs[t] += step;
        old[t] += step;
        let moved = (logprobs[t] - case.logprobs[t]) as f64;
        (compute_policy_loss(&LossInput { logprobs: &logprobs, old_logprobs: Some(&old), ..case.input() }, config).unwrap().loss, moved)
    };
    for (t, &g) in grad.iter().enumerate() {
        let ((plus, up), (minus, down)) = (at(t, h), at(t, -h));
        let fd = (plus - minus) / (up - down);
        let g = g as f64;
        assert!((g - fd).abs() <= 1e-9 + 1e-3 * fd.abs().max(g.abs()), "{what}: token {t}: analytic {g} vs finite difference {fd}");
    }
}

#[test]
fn cispo_gradient_is_the_clipped_weight_times_the_advantage_in_every_region() {
    let (mut low, mut high) = (0.0, 0.0);
    for aggregation in AGGREGATIONS {
        for kl in ESTIMATORS {
            let cfg = LossConfig { eps_low: 0.2, eps_high: 0.2, ..config(LossKind::Cispo, aggregation, kl) };
            for seed in [1, 2000] {
                let case = random_case(seed, 1.4, false);
                let out = compute_policy_loss(&case.input(), &cfg).unwrap();
                check_stop_gradient(&case, &cfg, &out.grad, &format!("cispo {aggregation:?} {kl:?}"));
                low += out.metrics.clip_frac_low;
                high += out.metrics.clip_frac_high;
                // Clipped tokens keep their gradient: only masked tokens have none.
                let live = out.grad.iter().zip(&case.mask).filter(|(&g, &m)| m != 0 && g == 0.0).count();
                assert_eq!(live, 0, "cispo {aggregation:?}: a loss token lost its gradient");
            }
        }
    }
    assert!(low > 0.0 && high > 0.0, "the cases must clip weights on both sides");
}

#[test]
fn cispo_vectors() {
    // README's vector: r = e^[0.5, -0.2, -1.5, 1.8] = [1.648721, 0.818731, 0.223130, 6.049647];
    // with the defaults (no lower bound, cap 4) w = [1.648721, 0.818731, 0.223130, 4].
    let logp = [-0.5f32, -1.2, -2.5, -0.2];
    let (old, adv, mask) = ([-1f32, -1.0, -1.0, -2.0], [1f32, -1.0, 2.0, 0.5], [1u8; 4]);
    let input = LossInput { logprobs: &logp, old_logprobs: Some(&old), ref_logprobs: None, advantages: Some(&adv), mask: &mask, offsets: None, normalizer: None };
    let out = compute_policy_loss(&input, &LossConfig::new(LossKind::Cispo)).unwrap();
    assert!((out.loss - 0.339384).abs() < 1e-5, "{}", out.loss);
    for (g, want) in out.grad.iter().zip([-0.412180, 0.204683, -0.111565, -0.5]) {
        assert!((*g as f64 - want).abs() < 1e-5, "{:?}", out.grad);
    }
    assert_eq!((out.metrics.clip_frac_high, out.metrics.clip_frac_low), (0.25, 0.0));
    // Two-sided clip at 0.2 / 0.2: w = [1.2, 0.818731, 0.8, 1.2].
    let out = compute_policy_loss(&input, &LossConfig { eps_low: 0.2, eps_high: 0.2, ..LossConfig::new(LossKind::Cispo) }).unwrap();
    assert!((out.loss - 0.934381).abs() < 1e-5, "{}", out.loss);
    assert_eq!((out.metrics.clip_frac_high, out.metrics.clip_frac_low), (0.5, 0.25));
}

#[test]
fn gspo_vector() {
    let (logp, old, mask) = ([-0.9f32, -1.2, -0.6], [-1f32, -1.0, -1.0], [1u8, 1, 1]);
    let cfg = LossConfig::new(LossKind::Gspo);
    let run = |a: f32| {
        let adv = [a];
        let input = LossInput { logprobs: &logp, old_logprobs: Some(&old), ref_logprobs: None, advantages: Some(&adv), mask: &mask, offsets: None, normalizer: None };
        compute_policy_loss(&input, &cfg).unwrap()
    };
    let up = run(1.0);
    assert!((up.loss + 1.0004).abs() < 1e-9, "{}", up.loss);
    assert!(up.grad.iter().all(|&g| g == 0.0));
    assert!((up.metrics.ratio_mean - 1.105171).abs() < 1e-6);
    let down = run(-1.0);
    assert!((down.loss - 1.105171).abs() < 1e-6, "{}", down.loss);
    assert!(down.grad.iter().all(|&g| (g as f64 - 1.105171 / 3.0).abs() < 1e-6));
}

#[test]
fn aggregation_vector() {
    // SFT per-token losses are -logp: [1, 1] and [2, 2, 2, 2], L_max = 4.
    let logp = [-1f32, -1.0, -2.0, -2.0, -2.0, -2.0];
    let (mask, offsets) = ([1u8; 6], [0, 2, 6]);
    let expected = [1.666667, 1.5, 5.0, 1.25];
    for (aggregation, want) in AGGREGATIONS.into_iter().zip(expected) {
        let input = LossInput { logprobs: &logp, old_logprobs: None, ref_logprobs: None, advantages: None, mask: &mask, offsets: Some(&offsets), normalizer: None };
        let out = compute_policy_loss(&input, &LossConfig { aggregation, ..LossConfig::new(LossKind::Sft) }).unwrap();
        assert!((out.loss - want).abs() < 1e-6, "{aggregation:?}: {}", out.loss);
    }
}

#[test]
fn dual_clip_and_kl_vectors() {
    let mask = [1u8];
    let (logp, old, adv) = ([5f32.ln() - 1.0], [-1f32], [-1f32]);
    let cfg = LossConfig { dual_clip: Some(3.0), ..LossConfig::new(LossKind::TokenClip) };
    let input = LossInput { logprobs: &logp, old_logprobs: Some(&old), ref_logprobs: None, advantages: Some(&adv), mask: &mask, offsets: None, normalizer: None };
    let out = compute_policy_loss(&input, &cfg).unwrap();
    assert!((out.loss - 3.0).abs() < 1e-6);
    assert_eq!(out.metrics.dual_clip_frac, 1.0);

    let (logp, reference, zero) = ([-1f32], [-1.5f32], [0f32]);
    for (kl_estimator, want) in ESTIMATORS.into_iter().zip([0.5, 0.125, 0.106531]) {
        let cfg = LossConfig { beta: 2.0, kl_estimator, ..LossConfig::new(LossKind::TokenClip) };
        let input = LossInput { logprobs: &logp, old_logprobs: Some(&logp), ref_logprobs: Some(&reference), advantages: Some(&zero), mask: &mask, offsets: None, normalizer: None };
        let out = compute_policy_loss(&input, &cfg).unwrap();
        assert!((out.metrics.kl - want).abs() < 1e-6, "{kl_estimator:?}");
        assert!((out.loss - 2.0 * want).abs() < 1e-6);
    }
}

#[test]
fn micro_batches_sum_to_the_full_batch() {
    let case = random_case(42, 1.0, false);
    let split = case.offsets[3] as usize; // sequences 0..3 | 3..5
    for kind in [LossKind::TokenClip, LossKind::GspoToken, LossKind::Cispo, LossKind::Sft] {
        for aggregation in AGGREGATIONS {
            let cfg = config(kind, aggregation, KlEstimator::K3);
            let full = compute_policy_loss(&case.input(), &cfg).unwrap();
            let normalizer = Normalizer::of_batch(&case.mask, Some(&case.offsets), None).unwrap();
            let first_offsets = &case.offsets[..4];
            let second_offsets: Vec<i32> = case.offsets[3..].iter().map(|o| o - split as i32).collect();
            let part = |range: std::ops::Range<usize>, offsets: &[i32], normalizer| {
                let input = LossInput {
                    logprobs: &case.logprobs[range.clone()],
                    old_logprobs: Some(&case.old[range.clone()]),
                    ref_logprobs: Some(&case.reference[range.clone()]),
                    advantages: Some(&case.advantages[range.clone()]),
                    mask: &case.mask[range],
                    offsets: Some(offsets),
                    normalizer,
                };
                compute_policy_loss(&input, &cfg).unwrap()
            };
            let a = part(0..split, first_offsets, Some(normalizer));
            let b = part(split..case.logprobs.len(), &second_offsets, Some(normalizer));
            assert!((a.loss + b.loss - full.loss).abs() < 1e-12, "{kind:?} {aggregation:?}");
            let grads: Vec<f32> = a.grad.iter().chain(&b.grad).copied().collect();
            assert_eq!(grads, full.grad, "{kind:?} {aggregation:?}");
            // The micro-batches' own normalizers merge into the full batch's.
            let own = |range: std::ops::Range<usize>, offsets: &[i32]| Normalizer::of_batch(&case.mask[range], Some(offsets), None).unwrap();
            assert_eq!(own(0..split, first_offsets).merge(own(split..case.mask.len(), &second_offsets)), normalizer);
        }
    }
}

#[test]
fn masked_out_tokens_and_sequences_contribute_nothing() {
    let case = random_case(3, 1.0, false);
    // Sequence 2 is fully masked: dropping it changes nothing, in any aggregation.
    let (s, e) = (case.offsets[2] as usize, case.offsets[3] as usize);
    let keep: Vec<usize> = (0..case.logprobs.len()).filter(|t| !(s..e).contains(t)).collect();
    let pick = |v: &[f32]| keep.iter().map(|&t| v[t]).collect::<Vec<_>>();
    let offsets: Vec<i32> = case.offsets.iter().filter(|&&o| o as usize != e).map(|&o| if o as usize > e { o - (e - s) as i32 } else { o }).collect();
    let without = Case { logprobs: pick(&case.logprobs), old: pick(&case.old), reference: pick(&case.reference), advantages: pick(&case.advantages), mask: keep.iter().map(|&t| case.mask[t]).collect(), offsets };
    for aggregation in AGGREGATIONS {
        let cfg = config(LossKind::TokenClip, aggregation, KlEstimator::K3);
        let a = compute_policy_loss(&case.input(), &cfg).unwrap();
        let b = compute_policy_loss(&without.input(), &cfg).unwrap();
        assert!((a.loss - b.loss).abs() < 1e-12, "{aggregation:?}");
        assert!(a.grad[s..e].iter().all(|&g| g == 0.0));
    }
}

#[test]
fn an_all_zero_mask_gives_zero_loss_not_nan() {
    let (logp, mask) = ([f32::NAN, -1.0], [0u8, 0]);
    for kind in [LossKind::TokenClip, LossKind::Gspo, LossKind::GspoToken, LossKind::Cispo, LossKind::Sft] {
        for aggregation in AGGREGATIONS {
            let cfg = LossConfig { aggregation, ..LossConfig::new(kind) };
            if cfg.validate().is_err() {
                continue;
            }
            let input = LossInput { logprobs: &logp, old_logprobs: Some(&logp), ref_logprobs: None, advantages: Some(&[f32::NAN]), mask: &mask, offsets: None, normalizer: None };
            let out = compute_policy_loss(&input, &cfg).unwrap();
            assert_eq!((out.loss, out.metrics.tokens, out.metrics.clip_frac, out.metrics.ratio_mean), (0.0, 0, 0.0, 1.0));
            assert_eq!(out.grad, vec![0.0, 0.0]);
        }
    }
}

#[test]
fn rejects_bad_input() {
    let case = random_case(9, 0.5, false);
    let cfg = LossConfig::new(LossKind::TokenClip);
    let err = |input: LossInput, cfg: &LossConfig| compute_policy_loss(&input, cfg).unwrap_err();

    let e = err(LossInput { old_logprobs: Some(&case.old[1..]), ..case.input() }, &cfg);
    assert_eq!(e.code, ErrorCode::LengthMismatch);
    assert!(e.message.contains("oldLogprobs has length"), "{}", e.message);

    let e = err(LossInput { advantages: Some(&case.advantages[..3]), ..case.input() }, &cfg);
    assert_eq!(e.code, ErrorCode::LengthMismatch);
    assert!(e.message.contains("one advantage per token or one per sequence"), "{}", e.message);

    let mut nan = case.advantages.clone();
    nan[4] = f32::NAN;
    let e = err(LossInput { advantages: Some(&nan), ..case.input() }, &cfg);
    assert_eq!((e.code, e.message.starts_with("advantages[4] is NaN")), (ErrorCode::NonFinite, true), "{}", e.message);

    let e = err(LossInput { old_logprobs: None, ..case.input() }, &cfg);
    assert_eq!(e.code, ErrorCode::InvalidArgument);
    assert!(e.message.contains("oldLogprobs is required"));

    let e = err(LossInput { ref_logprobs: None, ..case.input() }, &LossConfig { beta: 0.1, ..cfg.clone() });
    assert!(e.message.contains("refLogprobs is required"));

    let e = err(case.input(), &LossConfig { aggregation: Aggregation::TokenMean, ..LossConfig::new(LossKind::Gspo) });
    assert_eq!(e.code, ErrorCode::InvalidParameter);

    let e = err(case.input(), &LossConfig { dual_clip: Some(0.5), ..cfg.clone() });
    assert!(e.message.contains("dualClip"));

    let tiny = Normalizer { tokens: 1, sequences: 1, max_length: 1 };
    let e = err(LossInput { normalizer: Some(tiny), ..case.input() }, &cfg);
    assert!(e.message.contains("whole optimizer batch"), "{}", e.message);
}

#[test]
fn clamped_log_ratios_stop_the_gradient() {
    let mask = [1u8, 1];
    let adv = [-1f32];
    let run = |kind, logp: &[f32; 2], old: &[f32; 2]| {
        let input = LossInput { logprobs: logp, old_logprobs: Some(old), ref_logprobs: None, advantages: Some(&adv), mask: &mask, offsets: None, normalizer: None };
        compute_policy_loss(&input, &LossConfig::new(kind)).unwrap()
    };
    // Token log-ratios of 25 are clamped to 20: the ratio is e^20 and no gradient flows.
    let token = run(LossKind::TokenClip, &[-1.0, -1.0], &[-26.0, -26.0]);
    assert!((token.metrics.ratio_max - 20f64.exp()).abs() < 1e-3 * 20f64.exp());
    assert_eq!(token.grad, vec![0.0, 0.0]);
    // GSPO's log s_i of 15 is clamped to 10: GSPO gets no gradient, while GSPO-token's
    // sg[s_i] * p_t / sg[p_t] still passes -A * s_i (halved by seq-mean-token-mean).
    let (logp, old) = ([-1.0f32, -1.0], [-16.0f32, -16.0]);
    let gspo = run(LossKind::Gspo, &logp, &old);
    assert!((gspo.loss - 10f64.exp()).abs() < 1e-9 * 10f64.exp());
    assert_eq!(gspo.grad, vec![0.0, 0.0]);
    let gspo_token = run(LossKind::GspoToken, &logp, &old);
    assert_eq!(gspo_token.loss, gspo.loss);
    assert!(gspo_token.grad.iter().all(|&g| (g as f64 - 10f64.exp() / 2.0).abs() < 1e-2));
}

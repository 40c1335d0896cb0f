//! AdamW against a hand-written formula, the decay mask, clipping, skipped steps, and
//! save -> restore -> continue equal to an uninterrupted run, bit for bit.

use candle_core::backprop::GradStore;
use candle_core::{Device, Tensor, Var};

use super::*;
use crate::error::ErrorCode;
use crate::model::WeightKind;

fn param(name: &str, kind: WeightKind, values: &[f32]) -> Param {
    Param { name: name.into(), var: Var::from_slice(values, values.len(), &Device::Cpu).unwrap(), kind }
}

fn values(p: &Param) -> Vec<f32> {
    p.var.as_tensor().to_vec1().unwrap()
}

/// Gradients of the quadratic sum_i scale_i * (x_i - 1)^2 / 2 over every parameter, whose
/// gradient is scale * (x - 1).
fn quadratic_grads(params: &[Param], scale: f32) -> GradStore {
    let mut loss = Tensor::new(0f32, &Device::Cpu).unwrap();
    for p in params {
        let x = p.var.as_tensor();
        let term = ((x - 1.0).unwrap().sqr().unwrap().sum_all().unwrap() * (scale as f64 / 2.0)).unwrap();
        loss = (loss + term).unwrap();
    }
    loss.backward().unwrap()
}

fn no_clip() -> AdamWConfig {
    AdamWConfig { max_grad_norm: None, ..AdamWConfig::default() }
}

#[test]
fn two_steps_match_the_hand_written_formula() {
    let params = vec![param("w", WeightKind::Matrix, &[0.5, -2.0, 3.0]), param("b", WeightKind::Bias, &[0.0, 1.5])];
    let config = AdamWConfig { weight_decay: 0.1, ..no_clip() };
    let mut opt = AdamW::new(params.clone(), config.clone()).unwrap();
    let lrs = [0.1, 0.05];

    // The same two steps, element by element in f64.
    let mut expected: Vec<Vec<f64>> = params.iter().map(|p| values(p).iter().map(|&v| v as f64).collect()).collect();
    let mut m: Vec<Vec<f64>> = expected.iter().map(|x| vec![0.0; x.len()]).collect();
    let mut v = m.clone();
    for (step, lr) in lrs.iter().enumerate() {
        let t = step as i32 + 1;
        for (k, x) in expected.iter_mut().enumerate() {
            let decay = if params[k].kind == WeightKind::Matrix { lr * config.weight_decay } else { 0.0 };
            for i in 0..x.len() {
                let g = x[i] - 1.0;
                m[k][i] = config.beta1 * m[k][i] + (1.0 - config.beta1) * g;
                v[k][i] = config.beta2 * v[k][i] + (1.0 - config.beta2) * g * g;
                let m_hat = m[k][i] / (1.0 - config.beta1.powi(t));
                let v_hat = v[k][i] / (1.0 - config.beta2.powi(t));
                x[i] = x[i] * (1.0 - decay) - lr * m_hat / (v_hat.sqrt() + config.eps);
            }
        }
        let report = opt.step(&quadratic_grads(opt.params(), 1.0), *lr).unwrap();
        assert!(!report.skipped && !report.clipped);
    }
    for (p, want) in opt.params().iter().zip(&expected) {
        for (got, want) in values(p).iter().zip(want) {
            assert!((*got as f64 - want).abs() < 1e-6, "{}: {got} vs {want}", p.name);
        }
    }
    assert_eq!(opt.steps(), 2);
}

#[test]
fn weight_decay_follows_the_mask() {
    let kinds = [WeightKind::Matrix, WeightKind::Embedding, WeightKind::NormScale, WeightKind::Bias];
    let make = || kinds.iter().map(|&k| param(&format!("{k:?}"), k, &[1.0, 1.0])).collect::<Vec<_>>();
    // At x = 1 the gradient is 0, so only decay moves a weight: by the factor 1 - lr * wd.
    let decayed = |decay_kinds: Vec<WeightKind>| {
        let mut opt = AdamW::new(make(), AdamWConfig { weight_decay: 0.5, decay_kinds, ..no_clip() }).unwrap();
        opt.step(&quadratic_grads(opt.params(), 1.0), 0.1).unwrap();
        opt.params().iter().map(|p| values(p)[0]).collect::<Vec<_>>()
    };
    assert_eq!(decayed(AdamWConfig::default().decay_kinds), vec![0.95, 1.0, 1.0, 1.0]);
    assert_eq!(decayed(kinds.to_vec()), vec![0.95; 4]);
}

#[test]
fn clipping_scales_the_global_norm_to_max_norm() {
    let params = vec![param("a", WeightKind::Matrix, &[4.0, -2.0]), param("b", WeightKind::Bias, &[3.0])];
    let vars: Vec<Var> = params.iter().map(|p| p.var.clone()).collect();
    // Gradients x - 1: [3, -3] and [2]; norm sqrt(22).
    let mut grads = quadratic_grads(&params, 1.0);
    let norm = clip_grad_norm(&vars, &mut grads, 0.5).unwrap();
    assert!((norm - 22f64.sqrt()).abs() < 1e-6);
    assert!((global_grad_norm(&vars, &grads).unwrap() - 0.5).abs() < 1e-6);
    // Direction kept.
    let a: Vec<f32> = grads.get(vars[0].as_tensor()).unwrap().to_vec1().unwrap();
    assert!((a[0] + a[1]).abs() < 1e-7 && a[0] > 0.0);
    // Already within the bound: untouched.
    let mut small = quadratic_grads(&params, 1.0);
    assert!((clip_grad_norm(&vars, &mut small, 100.0).unwrap() - 22f64.sqrt()).abs() < 1e-6);
    assert!((global_grad_norm(&vars, &small).unwrap() - 22f64.sqrt()).abs() < 1e-6);

    // The optimizer clips the same way and reports the norm before clipping.
    let config = AdamWConfig { max_grad_norm: Some(0.5), ..AdamWConfig::default() };
    let mut opt = AdamW::new(params, config).unwrap();
    let report = opt.step(&quadratic_grads(opt.params(), 1.0), 1e-3).unwrap();
    assert!(report.clipped && (report.grad_norm - 22f64.sqrt()).abs() < 1e-6);
}

#[test]
fn a_non_finite_gradient_skips_the_step() {
    let params = vec![param("w", WeightKind::Matrix, &[0.5, 2.0])];
    let mut opt = AdamW::new(params.clone(), AdamWConfig::default()).unwrap();
    let before = values(&opt.params()[0]);
    let report = opt.step(&quadratic_grads(opt.params(), f32::NAN), 0.1).unwrap();
    assert!(report.skipped && report.grad_norm.is_nan());
    assert_eq!(values(&opt.params()[0]), before);
    assert_eq!((opt.steps(), opt.skipped_steps()), (0, 1));
    let report = opt.step(&quadratic_grads(opt.params(), f32::INFINITY), 0.1).unwrap();
    assert!(report.skipped);
    // The moments were untouched: the next step is a fresh optimizer's first.
    opt.step(&quadratic_grads(opt.params(), 1.0), 0.1).unwrap();
    let fresh_params = vec![param("w", WeightKind::Matrix, &before)];
    let mut fresh = AdamW::new(fresh_params, AdamWConfig::default()).unwrap();
    fresh.step(&quadratic_grads(fresh.params(), 1.0), 0.1).unwrap();
    assert_eq!(values(&opt.params()[0]), values(&fresh.params()[0]));
    assert_eq!((opt.steps(), opt.skipped_steps()), (1, 2));
}

fn model() -> Vec<Param> {
    vec![
        param("model.layers.0.mlp.up_proj.weight", WeightKind::Matrix, &[0.3, -1.2, 2.5, 0.7]),
        param("model.norm.weight", WeightKind::NormScale, &[1.0, 0.9]),
        param("model.embed_tokens.weight", WeightKind::Embedding, &[-0.4, 0.2, 0.1]),
    ]
}

/// Steps `opt` with a schedule and a gradient that changes with the step (one of them
/// non-finite), so that the moments and the counters all matter.
fn train(opt: &mut AdamW, steps: std::ops::Range<u64>) {
    let schedule = LrSchedule { kind: ScheduleKind::Cosine, lr: 0.05, warmup_steps: 2, total_steps: 10, min_lr_ratio: 0.1 };
    for s in steps {
        let scale = if s == 3 { f32::NAN } else { 1.0 + s as f32 * 0.37 };
        opt.step(&quadratic_grads(opt.params(), scale), schedule.lr(s)).unwrap();
    }
}

#[test]
fn save_restore_continue_is_bit_identical() {
    let config = AdamWConfig { max_grad_norm: Some(2.0), ..AdamWConfig::default() };
    let mut straight = AdamW::new(model(), config.clone()).unwrap();
    train(&mut straight, 0..8);

    let dir = std::env::temp_dir().join(format!("rl-core-adamw-{}", std::process::id()));
    let mut first = AdamW::new(model(), config.clone()).unwrap();
    train(&mut first, 0..5);
    first.save(&dir).unwrap();
    // A new process would rebuild the parameters from the model checkpoint.
    let restored: Vec<Param> = first.params().iter().map(|p| param(&p.name, p.kind, &values(p))).collect();
    drop(first);
    let mut resumed = AdamW::new(restored, config).unwrap();
    resumed.load(&dir).unwrap();
    train(&mut resumed, 5..8);
    std::fs::remove_dir_all(&dir).unwrap();

    for (a, b) in straight.params().iter().zip(resumed.params()) {
        let (a, b) = (values(a), values(b));
        assert_eq!(a.iter().map(|x| x.to_bits()).collect::<Vec<_>>(), b.iter().map(|x| x.to_bits()).collect::<Vec<_>>());
    }
    assert_eq!((resumed.steps(), resumed.skipped_steps()), (straight.steps(), straight.skipped_steps()));
    assert_eq!(straight.skipped_steps(), 1);
}

#[test]
fn loading_a_state_of_other_parameters_fails_clearly() {
    let dir = std::env::temp_dir().join(format!("rl-core-adamw-bad-{}", std::process::id()));
    let opt = AdamW::new(model(), AdamWConfig::default()).unwrap();
    opt.save(&dir).unwrap();

    let mut renamed = AdamW::new(vec![param("lm_head.weight", WeightKind::Matrix, &[1.0])], AdamWConfig::default()).unwrap();
    let e = renamed.load(&dir).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidCheckpoint);
    assert!(e.message.contains("no moment m.lm_head.weight"), "{}", e.message);

    let mut reshaped = model();
    reshaped[1] = param("model.norm.weight", WeightKind::NormScale, &[1.0, 1.0, 1.0]);
    let e = AdamW::new(reshaped, AdamWConfig::default()).unwrap().load(&dir).unwrap_err();
    assert!(e.message.contains("m.model.norm.weight is F32 [2]"), "{}", e.message);

    let e = AdamW::new(model()[..2].to_vec(), AdamWConfig::default()).unwrap().load(&dir).unwrap_err();
    assert!(e.message.contains("belongs to no parameter"), "{}", e.message);

    std::fs::remove_dir_all(&dir).unwrap();
    let e = AdamW::new(model(), AdamWConfig::default()).unwrap().load(&dir).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidCheckpoint);
}

#[test]
fn rejects_bad_configs() {
    let bad = |config: AdamWConfig| AdamW::new(model(), config).err().unwrap().code;
    assert_eq!(bad(AdamWConfig { beta1: 1.0, ..AdamWConfig::default() }), ErrorCode::InvalidParameter);
    assert_eq!(bad(AdamWConfig { eps: f64::NAN, ..AdamWConfig::default() }), ErrorCode::InvalidParameter);
    assert_eq!(bad(AdamWConfig { max_grad_norm: Some(0.0), ..AdamWConfig::default() }), ErrorCode::InvalidParameter);
}

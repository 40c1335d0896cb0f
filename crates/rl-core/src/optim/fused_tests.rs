//! The fused, in-place AdamW against the tensor formula it replaced (kept here as the
//! reference, with its state file format), step by step on random weights and gradients.

use std::collections::HashMap;

use candle_core::backprop::GradStore;
use candle_core::{DType, Device, Tensor, Var};

use super::*;
use crate::model::weights::SplitMix64;
use crate::model::WeightKind;

/// The update as it was written before the fused pass: candle tensor ops per parameter,
/// moments as f32 tensors, the norm summed in f32 by candle.
struct Reference {
    config: AdamWConfig,
    params: Vec<Param>,
    m: Vec<Tensor>,
    v: Vec<Tensor>,
    steps: u64,
}

impl Reference {
    fn new(params: Vec<Param>, config: AdamWConfig) -> Self {
        let zeros = |p: &Param| Tensor::zeros(p.var.shape(), DType::F32, &Device::Cpu).unwrap();
        Reference { m: params.iter().map(zeros).collect(), v: params.iter().map(zeros).collect(), params, config, steps: 0 }
    }

    fn step(&mut self, grads: &GradStore, lr: f64) -> bool {
        let mut sum = 0f64;
        for p in &self.params {
            if let Some(g) = grads.get(p.var.as_tensor()) {
                sum += g.to_dtype(DType::F32).unwrap().sqr().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap() as f64;
            }
        }
        let grad_norm = sum.sqrt();
        if !grad_norm.is_finite() {
            return false;
        }
        let factor = self.config.max_grad_norm.map_or(1.0, |max| clip_factor(grad_norm, max));
        self.steps += 1;
        let t = self.steps as i32;
        let c = &self.config;
        let (correction1, correction2) = (1.0 - c.beta1.powi(t), 1.0 - c.beta2.powi(t));
        for (i, p) in self.params.iter().enumerate() {
            let Some(g) = grads.get(p.var.as_tensor()) else { continue };
            let decay = if c.decay_kinds.contains(&p.kind) { lr * c.weight_decay } else { 0.0 };
            let g = g.detach().to_dtype(DType::F32).unwrap().affine(factor, 0.0).unwrap();
            self.m[i] = (self.m[i].affine(c.beta1, 0.0).unwrap() + g.affine(1.0 - c.beta1, 0.0).unwrap()).unwrap();
            self.v[i] = (self.v[i].affine(c.beta2, 0.0).unwrap() + g.sqr().unwrap().affine(1.0 - c.beta2, 0.0).unwrap()).unwrap();
            let m_hat = self.m[i].affine(1.0 / correction1, 0.0).unwrap();
            let denom = self.v[i].affine(1.0 / correction2, 0.0).unwrap().sqrt().unwrap().affine(1.0, c.eps).unwrap();
            let theta = p.var.as_tensor().to_dtype(DType::F32).unwrap().affine(1.0 - decay, 0.0).unwrap();
            let next = (theta - (m_hat / denom).unwrap().affine(lr, 0.0).unwrap()).unwrap();
            p.var.set(&next.to_dtype(p.var.dtype()).unwrap()).unwrap();
        }
        true
    }

    /// The state files exactly as the tensor-based optimizer wrote them.
    fn save(&self, dir: &std::path::Path) {
        std::fs::create_dir_all(dir).unwrap();
        let mut tensors = HashMap::new();
        for (i, p) in self.params.iter().enumerate() {
            tensors.insert(format!("m.{}", p.name), self.m[i].clone());
            tensors.insert(format!("v.{}", p.name), self.v[i].clone());
        }
        candle_core::safetensors::save(&tensors, dir.join(STATE_TENSORS)).unwrap();
        std::fs::write(dir.join(STATE_JSON), format!("{{\n  \"steps\": {},\n  \"skipped_steps\": 0\n}}", self.steps)).unwrap();
    }
}

/// Shapes on both sides of the size at which a parameter's update is split across threads.
const SHAPES: [&[usize]; 4] = [&[7], &[13, 11], &[64, 3, 5], &[300, 257]];
const KINDS: [WeightKind; 4] = [WeightKind::Bias, WeightKind::Matrix, WeightKind::NormScale, WeightKind::Matrix];

fn random_tensor(rng: &mut SplitMix64, shape: &[usize], scale: f32, dtype: DType) -> Tensor {
    let n = shape.iter().product();
    let values: Vec<f32> = (0..n).map(|_| rng.normal() * scale).collect();
    Tensor::from_vec(values, shape, &Device::Cpu).unwrap().to_dtype(dtype).unwrap()
}

/// The same random weights twice, in separate storage: one set for each optimizer.
fn twin_params(seed: u64, dtype: DType) -> (Vec<Param>, Vec<Param>) {
    let mut rng = SplitMix64(seed);
    let mut a = Vec::new();
    let mut b = Vec::new();
    for (i, (shape, kind)) in SHAPES.iter().zip(KINDS).enumerate() {
        let t = random_tensor(&mut rng, shape, 1.0, dtype);
        let name = format!("p{i}");
        a.push(Param { name: name.clone(), var: Var::from_tensor(&t.copy().unwrap()).unwrap(), kind });
        b.push(Param { name, var: Var::from_tensor(&t.copy().unwrap()).unwrap(), kind });
    }
    (a, b)
}

/// Random gradients for both sets (the same values), the last parameter without one on odd
/// steps (so it must be left alone then).
fn twin_grads(rng: &mut SplitMix64, step: usize, scale: f32, a: &[Param], b: &[Param]) -> (GradStore, GradStore) {
    let (mut ga, mut gb) = (GradStore::default(), GradStore::default());
    for (i, (pa, pb)) in a.iter().zip(b).enumerate() {
        let g = random_tensor(rng, pa.var.dims(), scale, pa.var.dtype());
        if i + 1 == a.len() && step % 2 == 1 {
            continue;
        }
        ga.insert(pa.var.as_tensor(), g.clone());
        gb.insert(pb.var.as_tensor(), g);
    }
    (ga, gb)
}

fn f32_values(t: &Tensor) -> Vec<f32> {
    t.to_dtype(DType::F32).unwrap().flatten_all().unwrap().to_vec1().unwrap()
}

/// Every value of `got` within 1e-6 of `want` relative to the tensor's largest value, and
/// bit for bit when `exact`.
fn assert_close(what: &str, got: &[f32], want: &[f32], exact: bool) {
    assert_eq!(got.len(), want.len(), "{what}");
    if exact {
        let differ = got.iter().zip(want).filter(|(a, b)| a.to_bits() != b.to_bits()).count();
        assert_eq!(differ, 0, "{what}: {differ} values differ from the tensor formula's");
    }
    let scale = want.iter().fold(0f32, |a, b| a.max(b.abs())) as f64;
    let worst = got.iter().zip(want).map(|(a, b)| (*a as f64 - *b as f64).abs()).fold(0.0, f64::max);
    assert!(worst <= 1e-6 * scale, "{what}: differs by {worst:e} (largest value {scale:e})");
}

fn assert_same_state(fused: &AdamW, reference: &Reference, exact: bool, when: &str) {
    for (i, (p, r)) in fused.params().iter().zip(&reference.params).enumerate() {
        assert_eq!(p.var.dtype(), r.var.dtype());
        assert_close(&format!("{when}: weight {}", p.name), &f32_values(p.var.as_tensor()), &f32_values(r.var.as_tensor()), exact);
        let (m, v) = fused.moments.get(i);
        assert_close(&format!("{when}: m of {}", p.name), m, &f32_values(&reference.m[i]), exact);
        assert_close(&format!("{when}: v of {}", p.name), v, &f32_values(&reference.v[i]), exact);
    }
}

fn run_side_by_side(config: AdamWConfig, dtype: DType, grad_scale: f32) {
    let (a, b) = twin_params(11, dtype);
    let mut fused = AdamW::new(a, config.clone()).unwrap();
    let mut reference = Reference::new(b, config.clone());
    let mut rng = SplitMix64(29);
    let lrs = [3e-2, 1e-2, 5e-3, 2e-2, 1e-3];
    let mut clipped_any = false;
    for (step, lr) in lrs.into_iter().enumerate() {
        let (ga, gb) = twin_grads(&mut rng, step, grad_scale, fused.params(), &reference.params);
        let report = fused.step(&ga, lr).unwrap();
        assert!(reference.step(&gb, lr) && !report.skipped);
        clipped_any |= report.clipped;
        // Without clipping the fused pass does the same f32 operations in the same order;
        // with it, its norm is summed in f64 rather than f32, so the factor may differ in
        // the last bits.
        assert_same_state(&fused, &reference, config.max_grad_norm.is_none(), &format!("{config:?} {dtype:?} step {step}"));
    }
    assert_eq!(clipped_any, config.max_grad_norm.is_some(), "the clipping case must clip");
    assert_eq!(fused.steps(), lrs.len() as u64);
}

#[test]
fn matches_the_tensor_formula_without_clipping_or_decay() {
    run_side_by_side(AdamWConfig { weight_decay: 0.0, max_grad_norm: None, ..AdamWConfig::default() }, DType::F32, 1.0);
}

#[test]
fn matches_the_tensor_formula_with_decay_by_kind_and_clipping() {
    let config = AdamWConfig { weight_decay: 0.1, max_grad_norm: Some(1.0), ..AdamWConfig::default() };
    run_side_by_side(config, DType::F32, 1.0);
}

#[test]
fn matches_the_tensor_formula_with_decay_on_every_kind_and_no_clipping() {
    let kinds = vec![WeightKind::Matrix, WeightKind::Bias, WeightKind::NormScale, WeightKind::Embedding];
    let config = AdamWConfig { weight_decay: 0.3, decay_kinds: kinds, max_grad_norm: None, beta1: 0.8, beta2: 0.95, eps: 1e-6 };
    run_side_by_side(config, DType::F32, 1e-3);
}

/// Weights in f64 (the gradient tests train none, but the optimizer accepts them) go
/// through an f32 copy, as the tensor formula did.
#[test]
fn f64_weights_match_the_tensor_formula() {
    run_side_by_side(AdamWConfig { weight_decay: 0.1, max_grad_norm: Some(1.0), ..AdamWConfig::default() }, DType::F64, 1.0);
    run_side_by_side(AdamWConfig { weight_decay: 0.1, max_grad_norm: None, ..AdamWConfig::default() }, DType::F64, 1.0);
}

/// The weight is updated in its own storage: a tensor sharing it (as the decoder's
/// `tracked()` weights do) sees the new values.
#[test]
fn updates_the_weight_in_place() {
    let (a, _) = twin_params(3, DType::F32);
    let alias = a[3].var.as_tensor().clone();
    let before = f32_values(&alias);
    let mut opt = AdamW::new(a, AdamWConfig::default()).unwrap();
    let mut grads = GradStore::default();
    grads.insert(opt.params()[3].var.as_tensor(), Tensor::ones((300, 257), DType::F32, &Device::Cpu).unwrap());
    opt.step(&grads, 0.1).unwrap();
    let after = f32_values(&alias);
    assert_eq!(after, f32_values(opt.params()[3].var.as_tensor()));
    assert!(after.iter().zip(&before).all(|(a, b)| a < b));
}

/// A gradient whose squares sum beyond f32's range skipped the step before (the f32 norm
/// overflowed); the f64 norm keeps that, since the f32 second moment would overflow.
#[test]
fn a_gradient_whose_squares_overflow_f32_skips_the_step() {
    let (a, _) = twin_params(5, DType::F32);
    let before: Vec<Vec<f32>> = a.iter().map(|p| f32_values(p.var.as_tensor())).collect();
    let mut opt = AdamW::new(a, AdamWConfig::default()).unwrap();
    let mut grads = GradStore::default();
    grads.insert(opt.params()[0].var.as_tensor(), Tensor::full(1e20f32, 7, &Device::Cpu).unwrap());
    let report = opt.step(&grads, 0.1).unwrap();
    assert!(report.skipped && report.grad_norm.is_infinite());
    assert_eq!((opt.steps(), opt.skipped_steps()), (0, 1));
    for (i, p) in opt.params().iter().enumerate() {
        assert_eq!(f32_values(p.var.as_tensor()), before[i]);
        assert!(opt.moments.get(i).0.iter().chain(opt.moments.get(i).1).all(|&x| x == 0.0));
    }
}

#[test]
fn the_norm_is_the_f64_sum_of_squares_on_both_sides_of_the_parallel_split() {
    let (a, _) = twin_params(7, DType::F32);
    let mut rng = SplitMix64(8);
    let (grads, _) = twin_grads(&mut rng, 0, 1.0, &a, &a);
    let vars: Vec<Var> = a.iter().map(|p| p.var.clone()).collect();
    let want: f64 = vars.iter().flat_map(|v| f32_values(grads.get(v.as_tensor()).unwrap())).map(|x| x as f64 * x as f64).sum::<f64>().sqrt();
    let got = global_grad_norm(&vars, &grads).unwrap();
    assert!((got - want).abs() <= 1e-12 * want, "{got} vs {want}");
}

/// A state file written by the tensor-based optimizer loads into the fused one, which then
/// continues exactly as the old one does; and the fused one writes the same file layout.
#[test]
fn resumes_from_a_state_written_by_the_tensor_formula() {
    let config = AdamWConfig { weight_decay: 0.1, max_grad_norm: None, ..AdamWConfig::default() };
    let (a, b) = twin_params(13, DType::F32);
    let mut reference = Reference::new(b, config.clone());
    let mut rng = SplitMix64(17);
    for (step, lr) in [1e-2, 2e-2, 5e-3].into_iter().enumerate() {
        let (_, g) = twin_grads(&mut rng, step, 1.0, &a, &reference.params);
        assert!(reference.step(&g, lr));
    }
    let dir = std::env::temp_dir().join(format!("rl-core-fused-adamw-{}", std::process::id()));
    reference.save(&dir);

    // The new process: weights as the reference left them, the state from its file.
    let restored = reference.params.iter().map(|p| Param { var: Var::from_tensor(&p.var.as_tensor().copy().unwrap()).unwrap(), ..p.clone() }).collect();
    let mut fused = AdamW::new(restored, config).unwrap();
    fused.load(&dir).unwrap();
    assert_eq!(fused.steps(), 3);
    assert_same_state(&fused, &reference, true, "after load");
    for (step, lr) in [1e-2, 3e-3].into_iter().enumerate() {
        let (ga, gb) = twin_grads(&mut rng, step, 1.0, fused.params(), &reference.params);
        fused.step(&ga, lr).unwrap();
        assert!(reference.step(&gb, lr));
        assert_same_state(&fused, &reference, true, &format!("resumed step {step}"));
    }

    // What the fused optimizer writes has the old file's names, shapes and dtypes.
    fused.save(&dir).unwrap();
    let saved = candle_core::safetensors::load(dir.join(STATE_TENSORS), &Device::Cpu).unwrap();
    reference.save(&dir);
    let old = candle_core::safetensors::load(dir.join(STATE_TENSORS), &Device::Cpu).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(saved.len(), old.len());
    for (name, t) in &old {
        let s = &saved[name];
        assert_eq!((s.dtype(), s.dims()), (t.dtype(), t.dims()), "{name}");
        assert_eq!(f32_values(s), f32_values(t), "{name}");
    }
}

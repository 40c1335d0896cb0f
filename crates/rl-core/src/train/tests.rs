//! Checks of the batch gradient on the tiny test decoders: every trainable variable gets
//! one, each loss type's matches central finite differences of the loss, and splitting a
//! batch into micro-batches does not change it.

use candle_core::{DType, Device, Tensor, Var, D};

use super::batch::{BatchAdvantages, Sample, TrainBatch};
use super::gradients::batch_gradients;
use super::TrainConfig;
use crate::loss::{compute_policy_loss, LossConfig, LossInput, LossKind};
use crate::model::tests::{tiny_gpt2, tiny_llama, weights};
use crate::model::weights::SplitMix64;
use crate::model::{Decoder, ModelConfig, Params};

/// Three sequences of different lengths (vocabulary 40), prompts unmasked, one sequence
/// without loss tokens.
pub(crate) fn batch(old: Option<Vec<Vec<f32>>>) -> TrainBatch {
    let sequences = vec![vec![1, 7, 3, 39, 12, 0, 5], vec![5, 21, 8, 8, 2], vec![9, 4, 33], vec![11, 2, 6, 30]];
    let masks = vec![vec![0, 0, 1, 1, 1, 0, 1], vec![0, 1, 1, 1, 1], vec![0, 0, 0], vec![0, 0, 1, 1]];
    TrainBatch {
        sequences,
        masks,
        old_logprobs: old,
        advantages: Some(BatchAdvantages::PerSequence(vec![0.9, -1.3, 0.4, 0.6])),
        ref_logprobs: None,
    }
}

pub(crate) fn config(kind: LossKind) -> TrainConfig {
    // Clip ranges wide enough that no ratio sits near a kink of the clipped objective.
    TrainConfig { temperature: 0.8, ..TrainConfig::new(LossConfig { eps_low: 0.3, eps_high: 0.3, beta: 0.1, ..LossConfig::new(kind) }, 1e-3) }
}

pub(crate) fn samples_of(b: &TrainBatch, c: &ModelConfig) -> Vec<Sample> {
    b.samples(c.vocab_size).unwrap()
}

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar().unwrap()
}

fn vars(params: &Params) -> Vec<Var> {
    params.vars().values().cloned().collect()
}

/// Rollout and reference log-probs near those of the test weights: ratios close to 1.
pub(crate) fn with_rollout(mut b: TrainBatch, c: &ModelConfig) -> TrainBatch {
    let decoder = &Decoder::new(c, &weights(c, DType::F32)).unwrap();
    let seqs: Vec<Vec<u32>> = b.sequences.iter().map(|s| s.iter().map(|&t| t as u32).collect()).collect();
    let scored = crate::score::score(decoder, &seqs, &crate::score::ScoreOptions { start: 1, temperature: 0.8, entropy: false }).unwrap();
    let shift = |k: f32| -> Vec<Vec<f32>> {
        scored.iter().map(|s| std::iter::once(0.0).chain(s.logprobs.iter().enumerate().map(|(i, l)| l + k * ((i % 3) as f32 - 1.0))).collect()).collect()
    };
    b.old_logprobs = Some(shift(0.05));
    b.ref_logprobs = Some(shift(0.2));
    b
}

/// log_softmax(logits / T) at every loss token, from a plain f64 forward over each whole
/// sequence: no chunks, no hand-written backward (composed ops: the fused kernels have no f64).
fn plain_logprobs(c: &ModelConfig, params: &Params, samples: &[Sample], temperature: f64) -> Vec<f64> {
    let decoder = Decoder::new(c, &params.tracked()).unwrap();
    let mut out = Vec::new();
    for s in samples {
        let ids = Tensor::from_slice(&s.ids, (1, s.ids.len()), &Device::Cpu).unwrap();
        let logits = (decoder.logits(&decoder.forward(&ids, &[0], None).unwrap().squeeze(0).unwrap()).unwrap() / temperature).unwrap();
        let logp: Vec<Vec<f64>> = candle_nn::ops::log_softmax(&logits, D::Minus1).unwrap().to_vec2().unwrap();
        out.extend(s.targets.iter().map(|&t| logp[t - 1][s.ids[t] as usize]));
    }
    out
}

/// The loss's dL/dlogprob at the loss tokens of `samples`, from the plain log-probs.
fn loss_gradient(samples: &[Sample], logprobs: &[f64], config: &TrainConfig) -> Vec<f32> {
    let concat = |field: fn(&Sample) -> &Option<Vec<f32>>| samples.iter().flat_map(|s| field(s).clone().unwrap()).collect::<Vec<f32>>();
    let (old, advantages, reference) = (concat(|s| &s.old_logprobs), concat(|s| &s.advantages), concat(|s| &s.ref_logprobs));
    let mut offsets = vec![0i32];
    for s in samples {
        offsets.push(offsets.last().unwrap() + s.targets.len() as i32);
    }
    let logprobs: Vec<f32> = logprobs.iter().map(|&l| l as f32).collect();
    let input = LossInput {
        logprobs: &logprobs,
        old_logprobs: Some(&old),
        ref_logprobs: Some(&reference),
        advantages: Some(&advantages),
        mask: &vec![1; logprobs.len()],
        offsets: Some(&offsets),
        normalizer: None,
    };
    compute_policy_loss(&input, &config.loss).unwrap().grad
}

/// The loss module checks its dL/dlogprob against finite differences of the loss; here the
/// model's gradient of sum_t g_t * logprob_t (g held at its value) is checked against
/// finite differences of that sum computed in f64 by a plain forward. By the chain rule
/// the two checks together give dL/dparameter.
fn check_loss_gradients(c: &ModelConfig, kind: LossKind) {
    let params = Params::new(&weights(c, DType::F64)).unwrap();
    let b = with_rollout(batch(None), c);
    let config = config(kind);
    let samples: Vec<Sample> = b.samples(c.vocab_size).unwrap().into_iter().filter(|s| !s.targets.is_empty()).collect();
    let g = loss_gradient(&samples, &plain_logprobs(c, &params, &samples, config.temperature), &config);
    let decoder = Decoder::new(c, &params.tracked()).unwrap();
    let (grads, _) = batch_gradients(&decoder, &samples, &config, &vars(&params)).unwrap();
    let surrogate = |params: &Params| plain_logprobs(c, params, &samples, config.temperature).iter().zip(&g).map(|(l, &g)| l * g as f64).sum::<f64>();
    let mut rng = SplitMix64(5);
    for (name, var) in params.vars() {
        let grad = grads.get(var.as_tensor()).unwrap_or_else(|| panic!("{name} received no gradient"));
        // The derivative along a random direction covers every entry at once.
        let direction: Vec<f64> = (0..var.elem_count()).map(|_| rng.normal() as f64).collect();
        let direction = Tensor::from_vec(direction, var.shape(), &Device::Cpu).unwrap();
        let analytic = (grad * &direction).unwrap().sum_all().unwrap().to_scalar::<f64>().unwrap();
        let original = var.as_tensor().copy().unwrap();
        let h = 1e-5;
        let at = |step: f64| {
            var.set(&(&original + (&direction * step).unwrap()).unwrap()).unwrap();
            surrogate(&params)
        };
        let numeric = (at(h) - at(-h)) / (2.0 * h);
        var.set(&original).unwrap();
        let error = (numeric - analytic).abs() / analytic.abs().max(numeric.abs()).max(1e-6);
        assert!(analytic.abs() > 1e-6, "{name}: gradient {analytic} is too small to check");
        assert!(error <= 1e-3, "{:?} {}: {name}: numeric {numeric} vs analytic {analytic} (relative error {error:.2e})", c.architecture, kind.name());
    }
}

#[test]
fn token_clip_gradients_match_finite_differences() {
    check_loss_gradients(&tiny_llama(), LossKind::TokenClip);
    check_loss_gradients(&tiny_gpt2(), LossKind::TokenClip);
}

#[test]
fn gspo_gradients_match_finite_differences() {
    check_loss_gradients(&tiny_llama(), LossKind::Gspo);
    check_loss_gradients(&tiny_gpt2(), LossKind::Gspo);
}

#[test]
fn gspo_token_gradients_match_finite_differences() {
    check_loss_gradients(&tiny_llama(), LossKind::GspoToken);
}

#[test]
fn sft_gradients_match_finite_differences() {
    check_loss_gradients(&tiny_llama(), LossKind::Sft);
    check_loss_gradients(&tiny_gpt2(), LossKind::Sft);
}

#[test]
fn micro_batches_sum_to_the_whole_batch_gradient() {
    let c = tiny_llama();
    let params = Params::new(&weights(&c, DType::F64)).unwrap();
    let b = with_rollout(batch(None), &c);
    let decoder = Decoder::new(&c, &params.tracked()).unwrap();
    let samples = b.samples(c.vocab_size).unwrap();
    let mut config = config(LossKind::TokenClip);
    config.loss.aggregation = crate::loss::Aggregation::SeqMeanTokenSumNorm;
    let (whole, whole_summary) = batch_gradients(&decoder, &samples, &config, &vars(&params)).unwrap();
    config.micro_batch_size = 1;
    let (split, split_summary) = batch_gradients(&decoder, &samples, &config, &vars(&params)).unwrap();
    assert!((whole_summary.loss() - split_summary.loss()).abs() < 1e-6);
    for (name, var) in params.vars() {
        assert!(max_diff(whole.get(var).unwrap(), split.get(var).unwrap()) < 1e-6, "{name}");
    }
}

#[test]
fn activation_checkpointing_gives_the_same_gradient() {
    for c in [tiny_gpt2(), tiny_llama()] {
        let params = Params::new(&weights(&c, DType::F64)).unwrap();
        let b = with_rollout(batch(None), &c);
        let decoder = Decoder::new(&c, &params.tracked()).unwrap();
        let samples = b.samples(c.vocab_size).unwrap();
        let mut config = config(LossKind::TokenClip);
        config.micro_batch_size = 2;
        let (plain, plain_summary) = batch_gradients(&decoder, &samples, &config, &vars(&params)).unwrap();
        config.activation_checkpointing = true;
        let (checkpointed, summary) = batch_gradients(&decoder, &samples, &config, &vars(&params)).unwrap();
        assert_eq!(plain_summary.loss(), summary.loss());
        for (name, var) in params.vars() {
            assert!(max_diff(plain.get(var).unwrap(), checkpointed.get(var).unwrap()) < 1e-12, "{:?} {name}", c.architecture);
        }
    }
}

/// A forward pass whose log-probs are not finite (here: a poisoned final norm) skips the
/// step exactly like a non-finite gradient does: no error, counted, every weight left as it
/// was; once the weight is repaired the next step trains and the count stays.
#[test]
fn non_finite_logprobs_skip_the_step_like_a_non_finite_gradient() {
    for activation_checkpointing in [false, true] {
        let json = r#"{"model_type":"gpt2","n_embd":16,"n_head":4,"n_layer":2,"n_positions":32,"vocab_size":40}"#;
        let engine = crate::engine::Engine::random(json, 3, None).unwrap();
        let mut b = batch(None);
        b.old_logprobs = Some(b.sequences.iter().map(|s| vec![-3.0; s.len()]).collect());
        let mut config = TrainConfig { activation_checkpointing, micro_batch_size: 2, ..config(LossKind::TokenClip) };
        config.loss.beta = 0.0;
        let snapshot = |engine: &crate::engine::Engine| -> Vec<Vec<f32>> {
            engine.params().vars().values().map(|v| v.as_tensor().flatten_all().unwrap().to_vec1::<f32>().unwrap()).collect()
        };
        let norm = engine.params().vars()["transformer.ln_f.weight"].clone();
        let healthy = norm.as_tensor().copy().unwrap();
        norm.set(&healthy.affine(0.0, f64::NAN).unwrap()).unwrap();
        let before = snapshot(&engine);

        let m = engine.train_step(&b, &config).unwrap();
        assert!(m.skipped && !m.loss.is_finite(), "checkpointing {activation_checkpointing}: {m:?}");
        assert_eq!((m.skipped_steps, m.steps), (1, 0));
        let after = snapshot(&engine);
        // NaN != NaN: compare bit patterns.
        let bits = |w: &Vec<Vec<f32>>| w.iter().map(|v| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>()).collect::<Vec<_>>();
        assert_eq!(bits(&after), bits(&before), "a skipped step changed the weights");

        norm.set(&healthy).unwrap();
        let m = engine.train_step(&b, &config).unwrap();
        assert!(!m.skipped && m.loss.is_finite());
        assert_eq!((m.skipped_steps, m.steps), (1, 1));
    }
}

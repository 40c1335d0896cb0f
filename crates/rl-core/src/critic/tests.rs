//! The critic on the tiny test decoders: its gradient matches finite differences through
//! the trunk and the head, micro-batching and activation checkpointing do not change it,
//! `values` reads the hidden state the training forward does, a LoRA critic shares the
//! policy's base, a step lowers the loss, and save / load resumes bit-identically.

use candle_core::{DType, Device, Tensor, Var};

use super::batch::{ValueBatch, ValueSample};
use super::head::ValueHead;
use super::step::value_gradients;
use super::{Critic, CriticTrainConfig};
use crate::engine::Engine;
use crate::lora::{LoraConfig, LoraSource};
use crate::model::tests::{tiny_gpt2, tiny_llama, weights};
use crate::model::weights::SplitMix64;
use crate::model::{Decoder, ModelConfig, Params, Weights};

const TINY_LLAMA: &str = r#"{"model_type":"llama","hidden_size":16,"num_attention_heads":4,"num_key_value_heads":2,
    "num_hidden_layers":2,"intermediate_size":24,"vocab_size":40,"max_position_embeddings":32,"tie_word_embeddings":true}"#;

/// Four sequences (one without loss tokens), returns in [-1, 1], old values near 0.
fn batch(with_old: bool) -> ValueBatch {
    let sequences = vec![vec![1, 7, 3, 39, 12, 0, 5], vec![5, 21, 8, 8, 2], vec![9, 4, 33], vec![11, 2, 6, 30]];
    let masks = vec![vec![0, 0, 1, 1, 1, 0, 1], vec![0, 1, 1, 1, 1], vec![0, 0, 0], vec![0, 0, 1, 1]];
    let mut rng = SplitMix64(9);
    let mut fill = |lo: f64, hi: f64| -> Vec<Vec<f32>> { sequences.iter().map(|s| s.iter().map(|_| (lo + (hi - lo) * rng.uniform()) as f32).collect()).collect() };
    let returns = fill(-1.0, 1.0);
    let old = fill(-0.05, 0.05);
    ValueBatch { sequences, masks, returns, old_values: with_old.then_some(old) }
}

fn loss_tokens(samples: &[ValueSample]) -> Vec<&ValueSample> {
    samples.iter().filter(|s| !s.targets.is_empty()).collect()
}

/// V at every loss token from a plain forward over each whole sequence.
fn plain_values(c: &ModelConfig, weights: &Weights, head: &ValueHead, samples: &[ValueSample]) -> Vec<f64> {
    let decoder = Decoder::new(c, weights).unwrap();
    let mut out = Vec::new();
    for s in loss_tokens(samples) {
        let ids = Tensor::from_slice(&s.ids, (1, s.ids.len()), &Device::Cpu).unwrap();
        let hidden = decoder.forward(&ids, &[0], None).unwrap().squeeze(0).unwrap();
        let values: Vec<f64> = head.forward(&hidden).unwrap().to_dtype(DType::F64).unwrap().to_vec1().unwrap();
        out.extend(s.targets.iter().map(|&t| values[t - 1]));
    }
    out
}

/// The trunk's variables a critic trains: all but an untied lm_head, which it never reads.
fn trunk_vars(params: &Params) -> Vec<(String, Var)> {
    params.vars().iter().filter(|(name, _)| name.as_str() != super::LM_HEAD).map(|(n, v)| (n.clone(), v.clone())).collect()
}

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_dtype(DType::F64).unwrap().to_scalar().unwrap()
}

/// `batch`'s sequences with old values and returns placed around the current predictions so
/// that the clipped term wins at every other loss token, far from every kink.
fn around_predictions(c: &ModelConfig, params: &Params, head: &ValueHead, clip: f64) -> Vec<ValueSample> {
    let mut b = batch(true);
    let predicted = plain_values(c, &params.tracked(), head, &b.samples(c.vocab_size).unwrap());
    let mut k = 0;
    let old = b.old_values.as_mut().unwrap();
    for (i, mask) in b.masks.iter().enumerate() {
        for t in (1..mask.len()).filter(|&t| mask[t] != 0) {
            let v = predicted[k];
            // Even tokens: the old value is 6 clip ranges below, the return just above, so the
            // clipped prediction misses it by more. Odd tokens: inside the clip range.
            let (o, r) = if k % 2 == 0 { (v - 6.0 * clip, v + 2.0 * clip) } else { (v + 0.2 * clip, v - 10.0 * clip) };
            old[i][t] = o as f32;
            b.returns[i][t] = r as f32;
            k += 1;
        }
    }
    b.samples(c.vocab_size).unwrap()
}

/// The gradient of sum_t g_t * V_t (g = dL/dV held at its value) along a random direction of
/// each variable, against central differences of that sum from a plain f64 forward. The value
/// loss's own dL/dV is checked against finite differences in `loss`; with the chain rule the
/// two give dL/dparameter.
fn check_gradients(c: &ModelConfig) {
    let params = Params::new(&weights(c, DType::F64)).unwrap();
    let head = ValueHead::new(c.hidden_size, DType::F64, 4).unwrap();
    // A larger head than the default's, so that the trunk's gradients are well above noise.
    head.weight.set(&(head.weight.as_tensor() * 20.0).unwrap()).unwrap();
    let config = CriticTrainConfig { value_clip: Some(0.05), micro_batch_size: 2, ..CriticTrainConfig::new(1e-3) };
    let samples = around_predictions(c, &params, &head, config.value_clip.unwrap());
    let (names, mut vars): (Vec<String>, Vec<Var>) = trunk_vars(&params).into_iter().unzip();
    vars.extend([head.weight.clone(), head.bias.clone()]);
    let (grads, sums) = value_gradients(&Decoder::new(c, &params.tracked()).unwrap(), &head, &samples, &config, &vars).unwrap();
    assert!(sums.loss > 0.0);

    // dL/dV at the plain values, from the loss itself.
    let values: Vec<f32> = plain_values(c, &params.tracked(), &head, &samples).iter().map(|&v| v as f32).collect();
    let tokens = loss_tokens(&samples);
    let returns: Vec<f32> = tokens.iter().flat_map(|s| s.returns.clone()).collect();
    let old: Vec<f32> = tokens.iter().flat_map(|s| s.old_values.clone().unwrap()).collect();
    let g = super::compute_value_loss(&super::ValueLossInput { values: &values, returns: &returns, old_values: Some(&old), clip: config.value_clip, tokens: None }).unwrap();
    assert!(g.clipped > 0 && g.clipped < values.len(), "the batch must visit both branches ({} of {} clipped)", g.clipped, values.len());
    let surrogate = || plain_values(c, &params.tracked(), &head, &samples).iter().zip(&g.grad).map(|(v, &g)| v * g as f64).sum::<f64>();

    let mut rng = SplitMix64(5);
    let names = names.into_iter().chain(["value_head.weight".to_string(), "value_head.bias".to_string()]);
    for (name, var) in names.zip(&vars) {
        let grad = grads.get(var.as_tensor()).unwrap_or_else(|| panic!("{name} received no gradient"));
        let direction: Vec<f64> = (0..var.elem_count()).map(|_| rng.normal() as f64).collect();
        let direction = Tensor::from_vec(direction, var.shape(), &Device::Cpu).unwrap();
        let analytic = (grad * &direction).unwrap().sum_all().unwrap().to_scalar::<f64>().unwrap();
        let original = var.as_tensor().copy().unwrap();
        let h = 1e-5;
        let at = |step: f64| {
            var.set(&(&original + (&direction * step).unwrap()).unwrap()).unwrap();
            surrogate()
        };
        let numeric = (at(h) - at(-h)) / (2.0 * h);
        var.set(&original).unwrap();
        let error = (numeric - analytic).abs() / analytic.abs().max(numeric.abs()).max(1e-6);
        assert!(analytic.abs() > 1e-6, "{name}: gradient {analytic} is too small to check");
        assert!(error <= 1e-3, "{:?}: {name}: numeric {numeric} vs analytic {analytic} (relative error {error:.2e})", c.architecture);
    }
}

#[test]
fn value_gradients_match_finite_differences_through_trunk_and_head() {
    check_gradients(&tiny_llama());
    check_gradients(&tiny_gpt2());
}

#[test]
fn micro_batches_and_activation_checkpointing_do_not_change_the_gradient() {
    let c = tiny_llama();
    let params = Params::new(&weights(&c, DType::F64)).unwrap();
    let head = ValueHead::new(c.hidden_size, DType::F64, 4).unwrap();
    let decoder = Decoder::new(&c, &params.tracked()).unwrap();
    let samples = batch(true).samples(c.vocab_size).unwrap();
    let mut vars: Vec<Var> = trunk_vars(&params).into_iter().map(|(_, v)| v).collect();
    vars.extend([head.weight.clone(), head.bias.clone()]);
    let whole_config = CriticTrainConfig { value_clip: Some(0.05), micro_batch_size: 8, ..CriticTrainConfig::new(1e-3) };
    let (whole, whole_sums) = value_gradients(&decoder, &head, &samples, &whole_config, &vars).unwrap();
    for (micro_batch_size, activation_checkpointing) in [(1, false), (2, true)] {
        let config = CriticTrainConfig { micro_batch_size, activation_checkpointing, ..whole_config.clone() };
        let (split, sums) = value_gradients(&decoder, &head, &samples, &config, &vars).unwrap();
        assert!((sums.loss - whole_sums.loss).abs() < 1e-9);
        for var in &vars {
            assert!(max_diff(whole.get(var).unwrap(), split.get(var).unwrap()) < 1e-9, "micro {micro_batch_size} checkpointing {activation_checkpointing}");
        }
    }
}

fn engine(lora: bool) -> Engine {
    let source = LoraSource::Fresh(LoraConfig { rank: 2, alpha: 4.0, target_modules: vec![], seed: 1 });
    Engine::random(TINY_LLAMA, 3, lora.then_some(&source)).unwrap()
}

#[test]
fn a_lora_critic_shares_the_policys_base_and_trains_only_adapters_and_head() {
    let policy = engine(true);
    let critic = Critic::new(&policy, 5).unwrap();
    assert!(critic.uses_lora() && critic.shares_base_with(&policy));
    let adapters: usize = policy.lora.as_ref().unwrap().params().iter().map(|p| p.var.elem_count()).sum();
    assert_eq!(critic.trainable_parameters(), adapters + 16 + 1);
    // A full critic is a copy: same values, other storage, every weight trainable.
    let policy = engine(false);
    let full = Critic::new(&policy, 5).unwrap();
    assert!(!full.uses_lora() && !full.shares_base_with(&policy));
    assert_eq!(full.trainable_parameters(), policy.model.config.num_parameters() + 16 + 1);
    for (name, var) in full.trunk.vars() {
        assert_eq!(max_diff(var.as_tensor(), policy.params().vars()[name].as_tensor()), 0.0, "{name}");
    }
}

#[test]
fn values_read_the_hidden_state_before_each_token_and_steps_lower_the_loss() {
    for lora in [false, true] {
        let policy = engine(lora);
        let critic = Critic::new(&policy, 5).unwrap();
        let b = batch(true);
        let refs: Vec<&[i32]> = b.sequences.iter().map(Vec::as_slice).collect();
        let values = critic.values(&refs, 1).unwrap();
        let samples = b.samples(40).unwrap();
        let all: Vec<ValueSample> = samples.iter().map(|s| ValueSample { ids: s.ids.clone(), targets: (1..s.ids.len()).collect(), returns: vec![0.0; s.ids.len() - 1], old_values: None }).collect();
        let plain = plain_values(&critic.config, &critic.decoder_weights(true).unwrap(), &critic.head, &all);
        let got: Vec<f32> = values.concat();
        assert_eq!(got.len(), plain.len());
        for (a, b) in got.iter().zip(&plain) {
            assert!((*a as f64 - b).abs() < 1e-5, "lora {lora}: {a} vs {b}");
        }

        let score = || policy.score(&refs, &crate::score::ScoreOptions { start: 1, temperature: 1.0, entropy: false }).unwrap().into_iter().map(|s| s.logprobs).collect::<Vec<_>>();
        let before = score();
        let config = CriticTrainConfig { value_clip: Some(10.0), ..CriticTrainConfig::new(1e-2) };
        let first = critic.train_step(&b, &config).unwrap();
        let mut last = first.clone();
        for _ in 0..20 {
            last = critic.train_step(&b, &config).unwrap();
        }
        assert!(last.value_loss < 0.5 * first.value_loss, "lora {lora}: value loss {} -> {}", first.value_loss, last.value_loss);
        assert_eq!((first.steps, last.steps, first.tokens), (1, 21, 10));
        // Training the critic leaves the policy as it was, shared base or not.
        assert_eq!(score(), before, "lora {lora}");
    }
}

#[test]
fn save_and_load_resume_bit_identically() {
    for lora in [false, true] {
        let policy = engine(lora);
        let config = CriticTrainConfig { value_clip: Some(0.2), micro_batch_size: 2, ..CriticTrainConfig::new(1e-2) };
        let b = batch(true);
        let whole = Critic::new(&policy, 5).unwrap();
        for _ in 0..3 {
            whole.train_step(&b, &config).unwrap();
        }
        let first = Critic::new(&policy, 5).unwrap();
        first.train_step(&b, &config).unwrap();
        let dir = std::env::temp_dir().join(format!("stateset-critic-{}-{lora}", std::process::id()));
        first.save(&dir).unwrap();
        let resumed = Critic::new(&policy, 6).unwrap();
        resumed.load(&dir).unwrap();
        for _ in 0..2 {
            resumed.train_step(&b, &config).unwrap();
        }
        for (a, b) in whole.params().iter().zip(resumed.params()) {
            assert_eq!(max_diff(a.var.as_tensor(), b.var.as_tensor()), 0.0, "lora {lora}: {}", a.name);
        }
        let other = Critic::new(&engine(!lora), 5).unwrap();
        let err = other.load(&dir).unwrap_err();
        assert!(err.message.contains("LoRA setting"), "{}", err.message);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

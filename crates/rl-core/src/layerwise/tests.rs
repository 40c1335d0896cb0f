//! The layer-wise engine against candle's autograd (train::gradients, kept as the
//! reference): the same loss and every weight's gradient to 1e-4 relative, for each loss
//! type, tied and untied heads, with and without recompute, whole and micro-batched, for
//! Llama (with and without q/k/v biases) and GPT-2, full and LoRA.

use candle_core::{DType, Device, Tensor, Var};

use super::train::{applies, batch_gradients};
use crate::lora::{Lora, LoraConfig};
use crate::loss::{Aggregation, LossKind};
use crate::model::weights::SplitMix64;
use crate::model::tests::{tiny_gpt2, weights};
use crate::model::{Decoder, ModelConfig, Params};
use crate::train::gradients;
use crate::train::tests::{batch, config, samples_of, with_rollout};
use crate::train::TrainBatch;

fn llama(extra: &str) -> ModelConfig {
    let json = format!(
        r#"{{"model_type":"llama","hidden_size":16,"num_attention_heads":4,"num_key_value_heads":2,
        "num_hidden_layers":2,"intermediate_size":24,"vocab_size":40,"rope_theta":5000,"max_position_embeddings":32{extra}}}"#
    );
    ModelConfig::from_hf_json(&json, "config.json").unwrap()
}

fn max_abs(t: &Tensor) -> f64 {
    t.to_dtype(DType::F64).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar().unwrap()
}

/// Asserts that the engine gives the reference's loss and gradients on `b`.
fn compare(c: &ModelConfig, b: &TrainBatch, kind: LossKind, micro_batch_size: usize, checkpointing: bool) {
    let params = Params::new(&weights(c, DType::F32)).unwrap();
    assert!(applies(&params), "the engine should take this model");
    let samples = samples_of(b, c);
    let mut train = config(kind);
    if kind == LossKind::Gspo {
        train.loss.aggregation = Aggregation::SeqMeanTokenMean;
    }
    if b.ref_logprobs.is_none() {
        train.loss.beta = 0.0;
    }
    train.micro_batch_size = micro_batch_size;
    train.activation_checkpointing = checkpointing;
    let vars: Vec<Var> = params.vars().values().cloned().collect();
    let decoder = Decoder::new(c, &params.tracked()).unwrap();
    let (reference, reference_summary) = gradients::batch_gradients(&decoder, &samples, &train, &vars).unwrap();
    let (grads, summary) = batch_gradients(&params, None, c, &samples, &train).unwrap();
    let label = format!("{kind:?} micro {micro_batch_size} checkpointing {checkpointing} tied {}", c.tie_word_embeddings);
    let (loss, expected) = (summary.loss(), reference_summary.loss());
    assert!((loss - expected).abs() <= 1e-4 * expected.abs().max(1e-3), "{label}: loss {loss} vs {expected}");
    for (name, var) in params.vars() {
        let r = reference.get(var).unwrap_or_else(|| panic!("{label}: the reference has no gradient for {name}"));
        let g = grads.get(var).unwrap_or_else(|| panic!("{label}: no gradient for {name}"));
        let scale = max_abs(r);
        assert!(scale > 0.0, "{label}: {name} has a zero reference gradient");
        let diff = max_abs(&(g - r).unwrap());
        assert!(diff <= 1e-4 * scale, "{label}: {name} differs by {} relative", diff / scale);
    }
}

#[test]
fn every_loss_gives_the_reference_loss_and_gradients() {
    let c = llama(r#","tie_word_embeddings":false,"rope_scaling":{"rope_type":"llama3","factor":4,"low_freq_factor":1,"high_freq_factor":2,"original_max_position_embeddings":16}"#);
    for kind in [LossKind::Sft, LossKind::TokenClip, LossKind::Gspo, LossKind::GspoToken, LossKind::Cispo] {
        let b = if kind == LossKind::Sft { batch(None) } else { with_rollout(batch(None), &c) };
        compare(&c, &b, kind, 8, false);
    }
}

#[test]
fn a_head_dim_that_does_not_divide_the_hidden_size_gives_the_reference_gradients() {
    let c = llama(r#","tie_word_embeddings":false,"head_dim":8"#);
    assert_eq!(c.num_heads * c.head_dim, 32, "queries wider than the hidden size");
    let b = with_rollout(batch(None), &c);
    compare(&c, &b, LossKind::TokenClip, 3, true);
    compare(&c, &b, LossKind::TokenClip, 8, false);
}

#[test]
fn micro_batches_recompute_and_a_tied_head_give_the_reference_gradients() {
    let tied = llama(r#","tie_word_embeddings":true"#);
    for c in [tied, llama(r#","tie_word_embeddings":false"#)] {
        let b = with_rollout(batch(None), &c);
        for (micro, checkpointing) in [(8, true), (1, false), (3, true)] {
            compare(&c, &b, LossKind::TokenClip, micro, checkpointing);
        }
    }
}

#[test]
fn two_layers_of_the_smollm2_135m_shape_give_the_reference_gradients() {
    let c = llama_135m_shape();
    let sequences: Vec<Vec<i32>> = (0..3).map(|s| (0..40 + 7 * s).map(|i| ((i * 7919 + s * 104729) % 49152) as i32).collect()).collect();
    let masks = sequences.iter().map(|seq| seq.iter().enumerate().map(|(i, _)| u8::from(i >= 10)).collect()).collect();
    let b = TrainBatch { sequences, masks, old_logprobs: None, advantages: None, ref_logprobs: None };
    compare(&c, &b, LossKind::Sft, 2, false);
}

fn llama_135m_shape() -> ModelConfig {
    let json = r#"{"model_type":"llama","hidden_size":576,"num_attention_heads":9,"num_key_value_heads":3,"num_hidden_layers":2,
        "intermediate_size":1536,"vocab_size":49152,"rope_theta":100000,"max_position_embeddings":2048,"tie_word_embeddings":true}"#;
    ModelConfig::from_hf_json(json, "config.json").unwrap()
}

#[test]
fn lora_gives_the_reference_adapter_gradients_and_the_base_none() {
    let llama_targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "down_proj"];
    let gpt2_targets = ["c_attn", "attn.c_proj", "c_fc"];
    for (c, targets) in [(llama(r#","tie_word_embeddings":true"#), &llama_targets[..]), (tiny_gpt2(), &gpt2_targets[..])] {
        compare_lora(&c, targets.iter().map(|t| t.to_string()).collect());
    }
}

fn compare_lora(c: &ModelConfig, targets: Vec<String>) {
    let params = Params::new(&weights(c, DType::F32)).unwrap();
    let lora = Lora::new(LoraConfig { rank: 2, alpha: 4.0, target_modules: targets, seed: 1 }, c, &params).unwrap();
    // B moved off zero, so that A's gradient is not zero either.
    let mut rng = SplitMix64(5);
    for p in lora.params() {
        let noise: Vec<f32> = (0..p.var.elem_count()).map(|_| 0.05 * rng.normal()).collect();
        p.var.set(&(p.var.as_tensor() + Tensor::from_vec(noise, p.var.shape(), &Device::Cpu).unwrap()).unwrap()).unwrap();
    }
    let b = with_rollout(batch(None), c);
    let samples = samples_of(&b, c);
    let adapters: Vec<Var> = lora.params().into_iter().map(|p| p.var).collect();
    for (micro, checkpointing) in [(8, false), (3, true)] {
        let mut train = config(LossKind::TokenClip);
        (train.micro_batch_size, train.activation_checkpointing) = (micro, checkpointing);
        let decoder = Decoder::new(c, &lora.training_weights(&params).unwrap()).unwrap();
        let (reference, reference_summary) = gradients::batch_gradients(&decoder, &samples, &train, &adapters).unwrap();
        let (grads, summary) = batch_gradients(&params, Some(&lora), c, &samples, &train).unwrap();
        let label = format!("{:?} micro {micro}", c.architecture);
        assert!((summary.loss() - reference_summary.loss()).abs() <= 1e-4 * reference_summary.loss().abs(), "{label}: loss");
        for (p, var) in lora.params().iter().zip(&adapters) {
            let (g, r) = (grads.get(var).unwrap_or_else(|| panic!("{label}: no gradient for {}", p.name)), reference.get(var).unwrap());
            let scale = max_abs(r);
            assert!(scale > 0.0 && max_abs(&(g - r).unwrap()) <= 1e-4 * scale, "{label}: {}: {} relative", p.name, max_abs(&(g - r).unwrap()) / scale);
        }
        for (name, var) in params.vars() {
            assert!(grads.get(var).is_none(), "{label}: the frozen {name} received a gradient");
        }
    }
}

#[test]
fn gpt2_and_a_llama_with_qkv_biases_give_the_reference_gradients() {
    let qwen = crate::model::tests::tiny_llama();
    assert!(qwen.attention_bias);
    for c in [tiny_gpt2(), qwen] {
        let b = with_rollout(batch(None), &c);
        for (micro, checkpointing) in [(8, false), (3, true)] {
            compare(&c, &b, LossKind::TokenClip, micro, checkpointing);
        }
        compare(&c, &batch(None), LossKind::Sft, 2, false);
    }
}

#[test]
fn f64_models_stay_on_candle() {
    let c = llama(r#","tie_word_embeddings":false"#);
    assert!(!applies(&Params::new(&weights(&c, DType::F64)).unwrap()), "f64 (gradient checks) trains through candle");
}

#[test]
fn kept_and_recomputed_logits_give_the_same_gradients() {
    let c = llama(r#","tie_word_embeddings":true"#);
    let params = Params::new(&weights(&c, DType::F32)).unwrap();
    let samples = samples_of(&with_rollout(batch(None), &c), &c);
    let train = config(LossKind::TokenClip);
    let (kept, _) = batch_gradients(&params, None, &c, &samples, &train).unwrap();
    let (recomputed, _) = crate::train::head::with_recomputed_logits(|| batch_gradients(&params, None, &c, &samples, &train).unwrap());
    for (name, var) in params.vars() {
        let (a, b) = (kept.get(var).unwrap(), recomputed.get(var).unwrap());
        assert!(max_abs(&(a - b).unwrap()) <= 1e-6 * max_abs(b), "{name}");
    }
}

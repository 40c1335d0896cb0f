//! Whole forward/backward passes of the tiny decoders with the custom kernels (flash
//! attention, frozen linear maps, factored LoRA) against the composed candle path they
//! replaced: the same loss and the same gradient for every trainable variable, and no
//! gradient for frozen weights.

use candle_core::{DType, Device, Tensor, Var};

use super::layers::with_reference_path;
use super::tests::{tiny_gpt2, tiny_llama, weights};
use super::weights::SplitMix64;
use super::{Decoder, ModelConfig, Params};
use crate::lora::{Lora, LoraConfig};
use crate::loss::{LossConfig, LossKind};
use crate::train::gradients::batch_gradients;
use crate::train::tests::{batch, samples_of};
use crate::train::TrainConfig;

fn max_abs(t: &Tensor) -> f64 {
    t.to_dtype(DType::F64).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar().unwrap()
}

/// Loss and gradients of `trainable` from the batch, on the kernels and on the reference
/// path; asserts they agree to 1e-4 relative and that `frozen` get no gradient on either.
fn compare(c: &ModelConfig, weights: &super::Weights, trainable: &[Var], frozen: &[Var], checkpointing: bool) {
    let decoder = Decoder::new(c, weights).unwrap();
    let samples = samples_of(&batch(None), c);
    let mut config = TrainConfig::new(LossConfig::new(LossKind::Sft), 1e-3);
    config.activation_checkpointing = checkpointing;
    config.micro_batch_size = 3;
    let mut all = trainable.to_vec();
    all.extend(frozen.iter().cloned());
    let (grads, summary) = batch_gradients(&decoder, &samples, &config, &all).unwrap();
    let (reference, reference_summary) = with_reference_path(|| batch_gradients(&decoder, &samples, &config, &all).unwrap());
    let label = format!("{:?} checkpointing {checkpointing}", c.architecture);
    assert!((summary.loss() - reference_summary.loss()).abs() <= 1e-4 * reference_summary.loss().abs(), "{label}: loss {} vs {}", summary.loss(), reference_summary.loss());
    for (i, var) in trainable.iter().enumerate() {
        let (g, r) = (grads.get(var).unwrap(), reference.get(var).unwrap());
        let scale = max_abs(r);
        assert!(scale > 0.0, "{label}: trainable {i} has a zero gradient");
        assert!(max_abs(&(g - r).unwrap()) <= 1e-4 * scale, "{label}: trainable {i} differs by {}", max_abs(&(g - r).unwrap()) / scale);
    }
    for var in frozen {
        assert!(grads.get(var).is_none() && reference.get(var).is_none(), "{label}: a frozen weight received a gradient");
    }
}

#[test]
fn full_fine_tuning_gives_the_reference_loss_and_gradients() {
    for c in [tiny_gpt2(), tiny_llama()] {
        let params = Params::new(&weights(&c, DType::F32)).unwrap();
        let vars: Vec<Var> = params.vars().values().cloned().collect();
        for checkpointing in [false, true] {
            compare(&c, &params.tracked(), &vars, &[], checkpointing);
        }
    }
}

#[test]
fn lora_gives_the_reference_loss_and_gradients_and_frozen_weights_none() {
    for c in [tiny_gpt2(), tiny_llama()] {
        let params = Params::new(&weights(&c, DType::F32)).unwrap();
        // Every matrix adapted (the MLP and, for GPT-2, both layouts); B moved off zero so
        // that A's gradient is not zero either (with random values: a constant B sends A
        // only the row sums of the residual gradient, which LayerNorm's backward makes zero).
        let targets = match c.architecture {
            super::Architecture::Gpt2 => vec!["c_attn".into(), "c_proj".into(), "c_fc".into()],
            super::Architecture::Llama => vec!["q_proj".into(), "k_proj".into(), "v_proj".into(), "o_proj".into(), "gate_proj".into(), "down_proj".into()],
        };
        let lora = Lora::new(LoraConfig { rank: 2, alpha: 4.0, target_modules: targets, seed: 1 }, &c, &params).unwrap();
        let mut rng = SplitMix64(5);
        for p in lora.params() {
            let noise: Vec<f32> = (0..p.var.elem_count()).map(|_| 0.05 * rng.normal()).collect();
            p.var.set(&(p.var.as_tensor() + Tensor::from_vec(noise, p.var.shape(), &Device::Cpu).unwrap()).unwrap()).unwrap();
        }
        let adapters: Vec<Var> = lora.params().into_iter().map(|p| p.var).collect();
        let frozen: Vec<Var> = params.vars().values().cloned().collect();
        for checkpointing in [false, true] {
            compare(&c, &lora.training_weights(&params).unwrap(), &adapters, &frozen, checkpointing);
        }
    }
}

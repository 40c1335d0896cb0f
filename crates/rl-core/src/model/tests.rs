//! Checks of the decoders that the trainer and the generator rely on: every parameter
//! receives a correct gradient, the fused inference path computes what the composed
//! training path does, and KV-cached and left-padded passes match a plain forward.

use candle_core::{DType, Device, Tensor, D};

use super::weights::SplitMix64;
use super::{random_weights, Decoder, ModelConfig, Params, Weights};
use crate::generate::kv_cache::KvCache;

pub(crate) fn tiny_gpt2() -> ModelConfig {
    let json = r#"{"model_type":"gpt2","n_embd":16,"n_head":4,"n_layer":2,"n_positions":32,"vocab_size":40}"#;
    ModelConfig::from_hf_json(json, "config.json").unwrap()
}

/// GQA, q/k/v biases, an untied lm_head and Llama 3 rope scaling: every optional path.
pub(crate) fn tiny_llama() -> ModelConfig {
    let json = r#"{"model_type":"qwen2","hidden_size":16,"num_attention_heads":4,"num_key_value_heads":2,
        "num_hidden_layers":2,"intermediate_size":24,"vocab_size":40,"rope_theta":5000,"max_position_embeddings":32,
        "tie_word_embeddings":false,"rope_scaling":{"rope_type":"llama3","factor":4,"low_freq_factor":1,
        "high_freq_factor":2,"original_max_position_embeddings":16}}"#;
    ModelConfig::from_hf_json(json, "config.json").unwrap()
}

/// Random weights with the biases and norm scales perturbed too, so that a gradient
/// that ignored them could not pass by accident.
pub(crate) fn weights(c: &ModelConfig, dtype: DType) -> Weights {
    let mut rng = SplitMix64(11);
    random_weights(c, 3)
        .unwrap()
        .into_iter()
        .map(|(name, t)| {
            let t = if t.dims().len() == 1 {
                let noise: Vec<f32> = (0..t.elem_count()).map(|_| 0.1 * rng.normal()).collect();
                t.add(&Tensor::from_vec(noise, t.shape(), &Device::Cpu).unwrap()).unwrap()
            } else {
                t
            };
            (name, t.to_dtype(dtype).unwrap())
        })
        .collect()
}

const IDS: [u32; 10] = [1, 7, 3, 39, 12, 0, 5, 5, 21, 8];

fn ids() -> Tensor {
    Tensor::from_slice(&IDS, (2, 5), &Device::Cpu).unwrap()
}

/// A training-like loss: the weighted log-likelihood of fixed next tokens.
fn loss(decoder: &Decoder) -> Tensor {
    let hidden = decoder.forward(&ids(), &[0, 0], None).unwrap();
    let logp = candle_nn::ops::log_softmax(&decoder.logits(&hidden).unwrap(), D::Minus1).unwrap();
    let targets = Tensor::from_slice(&[3u32, 9, 1, 30, 2, 17, 4, 4, 11, 0], (2, 5, 1), &Device::Cpu).unwrap();
    let picked = logp.gather(&targets, D::Minus1).unwrap().squeeze(D::Minus1).unwrap();
    let scale = Tensor::arange(1u32, 11, &Device::Cpu).unwrap().to_dtype(picked.dtype()).unwrap().reshape((2, 5)).unwrap();
    (picked * scale).unwrap().sum_all().unwrap().neg().unwrap()
}

fn scalar(t: &Tensor) -> f64 {
    t.to_dtype(DType::F64).unwrap().to_scalar::<f64>().unwrap()
}

fn check_gradients(c: &ModelConfig) {
    let params = Params::new(&weights(c, DType::F64)).unwrap();
    let decoder = Decoder::new(c, &params.tracked()).unwrap();
    let grads = loss(&decoder).backward().unwrap();
    for (name, var) in params.vars() {
        let g = grads.get(var).unwrap_or_else(|| panic!("{name} received no gradient"));
        let norm = scalar(&g.abs().unwrap().sum_all().unwrap());
        assert!(norm > 0.0, "{name} has an all-zero gradient");
    }
    // Central finite differences on a few entries of a few tensors.
    let names = ["model.layers.1.self_attn.k_proj.bias", "model.layers.0.mlp.gate_proj.weight", "model.norm.weight",
        "transformer.h.0.attn.c_attn.weight", "transformer.h.1.ln_2.bias", "transformer.wpe.weight"];
    for name in names.iter().filter(|n| params.vars().contains_key(**n)) {
        let var = &params.vars()[*name];
        let analytic: Vec<f64> = grads.get(var).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        let original = var.as_tensor().copy().unwrap();
        for index in [0, 5, analytic.len() - 1] {
            let h = 1e-5;
            let shifted = |delta: f64| {
                let mut values: Vec<f64> = original.flatten_all().unwrap().to_vec1().unwrap();
                values[index] += delta;
                var.set(&Tensor::from_vec(values, original.shape(), &Device::Cpu).unwrap()).unwrap();
                scalar(&loss(&Decoder::new(c, &params.tracked()).unwrap()))
            };
            let numeric = (shifted(h) - shifted(-h)) / (2.0 * h);
            var.set(&original).unwrap();
            let tolerance = 1e-6 * (1.0 + numeric.abs());
            assert!((numeric - analytic[index]).abs() < tolerance, "{name}[{index}]: numeric {numeric} vs analytic {}", analytic[index]);
        }
    }
}

#[test]
fn every_gpt2_parameter_gets_a_gradient_that_matches_finite_differences() {
    check_gradients(&tiny_gpt2());
}

#[test]
fn every_llama_parameter_gets_a_gradient_that_matches_finite_differences() {
    check_gradients(&tiny_llama());
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap()
}

#[test]
fn fused_inference_kernels_match_the_differentiable_ops() {
    for c in [tiny_gpt2(), tiny_llama()] {
        let params = Params::new(&weights(&c, DType::F32)).unwrap();
        let train = Decoder::new(&c, &params.tracked()).unwrap();
        let infer = Decoder::new(&c, &params.detached()).unwrap();
        let a = train.logits(&train.forward(&ids(), &[0, 0], None).unwrap()).unwrap();
        let b = infer.logits(&infer.forward(&ids(), &[0, 0], None).unwrap()).unwrap();
        assert!(a.track_op() && !b.track_op());
        assert!(max_abs_diff(&a, &b) < 1e-5, "{:?}: {}", c.architecture, max_abs_diff(&a, &b));
    }
}

#[test]
fn kv_cached_decoding_and_left_padding_match_a_plain_forward() {
    for c in [tiny_gpt2(), tiny_llama()] {
        let decoder = Decoder::new(&c, &weights(&c, DType::F32)).unwrap();
        let full = decoder.forward(&ids(), &[0, 0], None).unwrap();
        // Row 0 is [1, 7, 3, 39] then 12; row 1 is [5, 21] left-padded by 2, then 8.
        let mut cache = KvCache::new(&c, 2, 8).unwrap();
        let padded = Tensor::from_slice(&[1u32, 7, 3, 39, 0, 0, 5, 21], (2, 4), &Device::Cpu).unwrap();
        let prefill = decoder.forward(&padded, &[0, 2], Some(&mut cache)).unwrap();
        let step = decoder.forward(&Tensor::from_slice(&[12u32, 8], (2, 1), &Device::Cpu).unwrap(), &[0, 2], Some(&mut cache)).unwrap();
        let row0 = Tensor::cat(&[prefill.get(0).unwrap(), step.get(0).unwrap()], 0).unwrap();
        assert!(max_abs_diff(&row0, &full.get(0).unwrap()) < 1e-5, "{:?}", c.architecture);
        let alone = decoder.forward(&Tensor::from_slice(&[5u32, 21, 8], (1, 3), &Device::Cpu).unwrap(), &[0], None).unwrap();
        let row1 = Tensor::cat(&[prefill.get(1).unwrap().narrow(0, 2, 2).unwrap(), step.get(1).unwrap()], 0).unwrap();
        assert!(max_abs_diff(&row1, &alone.get(0).unwrap()) < 1e-5, "{:?}", c.architecture);
    }
}

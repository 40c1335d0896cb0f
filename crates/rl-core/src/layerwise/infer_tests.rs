//! Passes with a KV cache on the layer-wise engine against candle's (the reference path):
//! left-padded prefill in column chunks then decode steps, rows leaving the cache, for
//! Llama (GQA, q/k/v biases, a scaled rotation) and GPT-2, with and without unmerged LoRA
//! factors; generation agrees token for token, also after a training step.

use candle_core::{DType, Device, Tensor};

use crate::generate::kv_cache::KvCache;
use crate::engine::Engine;
use crate::generate::{generate, Completion, GenerateOptions, SamplingParams};
use crate::lora::{LoraConfig, LoraSource};
use crate::loss::LossKind;
use crate::train::tests::{batch, config};
use crate::train::TrainConfig;
use crate::model::layers::{with_reference_path, LoraFactors};
use crate::model::tests::{tiny_gpt2, tiny_llama, weights};
use crate::model::{Architecture, Decoder, ModelConfig, Weights};

fn llama_with_bias() -> ModelConfig {
    let json = r#"{"model_type":"qwen2","hidden_size":16,"num_attention_heads":4,"num_key_value_heads":2,"num_hidden_layers":2,
        "intermediate_size":24,"vocab_size":40,"rope_theta":5000,"max_position_embeddings":32,"attention_bias":true,
        "rope_scaling":{"type":"linear","factor":2.0}}"#;
    ModelConfig::from_hf_json(json, "config.json").unwrap()
}

/// The weights with a rank-2 adapter (A and s * B) beside every attention output projection.
fn with_adapters(c: &ModelConfig, mut w: Weights) -> Weights {
    let (module, shape_a, shape_b) = match c.architecture {
        Architecture::Llama => ("model.layers.{l}.self_attn.o_proj", (2, c.num_heads * c.head_dim), (c.hidden_size, 2)),
        Architecture::Gpt2 => ("transformer.h.{l}.attn.c_proj", (2, c.hidden_size), (c.hidden_size, 2)),
    };
    for l in 0..c.num_layers {
        let [a, b] = LoraFactors::names(&module.replace("{l}", &l.to_string()));
        let values = |n: usize, salt: f32| (0..n).map(|i| ((i as f32 * 0.37 + salt).sin()) * 0.3).collect::<Vec<f32>>();
        w.insert(a, Tensor::from_vec(values(shape_a.0 * shape_a.1, 1.0), shape_a, &Device::Cpu).unwrap());
        w.insert(b, Tensor::from_vec(values(shape_b.0 * shape_b.1, 2.0), shape_b, &Device::Cpu).unwrap());
    }
    w
}

/// Hidden states of a left-padded prefill of 36 rows x columns (in chunks of 33 and 3:
/// products on the weights as stored, then on their [in, out] copies), three decode steps
/// of 3 rows, two of 2 rows after row 1 leaves, and two of a single row (the skinny kernel).
fn cached_passes(d: &Decoder, c: &ModelConfig) -> Vec<Vec<f32>> {
    let mut cache = KvCache::new(c, 3, 20).unwrap();
    let pad = vec![0usize, 3, 1];
    let ids = Tensor::from_vec((0..36u32).map(|i| (i * 7 + 3) % 40).collect::<Vec<_>>(), (3, 12), &Device::Cpu).unwrap();
    let mut out = Vec::new();
    let mut run = |ids: Tensor, pad: &[usize], cache: &mut KvCache| out.push(d.forward(&ids, pad, Some(cache)).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap());
    run(ids.narrow(1, 0, 11).unwrap(), &pad, &mut cache);
    run(ids.narrow(1, 11, 1).unwrap(), &pad, &mut cache);
    for step in 0..3u32 {
        run(Tensor::from_vec(vec![11 + step, 20 + step, 30 + step], (3, 1), &Device::Cpu).unwrap(), &pad, &mut cache);
    }
    cache.keep_rows(&[0, 2]).unwrap();
    for step in 0..2u32 {
        run(Tensor::from_vec(vec![14 + step, 33 + step], (2, 1), &Device::Cpu).unwrap(), &[0, 1], &mut cache);
    }
    cache.keep_rows(&[1]).unwrap();
    for step in 0..2u32 {
        run(Tensor::from_vec(vec![25 + step], (1, 1), &Device::Cpu).unwrap(), &[1], &mut cache);
    }
    out
}

#[test]
fn cached_passes_match_candles_for_every_architecture_with_and_without_adapters() {
    for c in [tiny_llama(), llama_with_bias(), tiny_gpt2()] {
        for adapters in [false, true] {
            let base = weights(&c, DType::F32);
            let d = Decoder::new(&c, &if adapters { with_adapters(&c, base) } else { base }).unwrap();
            let engine = cached_passes(&d, &c);
            let reference = with_reference_path(|| cached_passes(&d, &c));
            for (pass, (a, b)) in engine.iter().zip(&reference).enumerate() {
                let diff = a.iter().zip(b).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
                assert!(diff < 1e-4, "{:?} adapters {adapters} pass {pass}: differs by {diff}", c.architecture);
            }
        }
    }
}

#[test]
fn generation_on_the_engine_draws_the_reference_tokens() {
    for c in [tiny_llama(), tiny_gpt2()] {
        let d = Decoder::new(&c, &weights(&c, DType::F32)).unwrap();
        let prompts = vec![vec![1u32, 2, 3, 4, 5], vec![9], vec![7, 7, 30]];
        let options = GenerateOptions { max_new_tokens: 8, sampling: SamplingParams { temperature: 0.9, ..Default::default() }, stop_token_ids: vec![3], seed: 7, row_seeds: None };
        let engine = generate(&d, &prompts, &options).unwrap();
        let reference = with_reference_path(|| generate(&d, &prompts, &options).unwrap());
        for (a, b) in engine.iter().zip(&reference) {
            assert_eq!(a.tokens, b.tokens, "{:?}", c.architecture);
            a.logprobs.iter().zip(&b.logprobs).for_each(|(x, y)| assert!((x - y).abs() < 1e-4, "{:?}: {x} vs {y}", c.architecture));
        }
    }
}

/// The engine's [in, out] copies of the weights are made again after a training step (and
/// after restoring adapters): generation after a step matches the reference, which reads
/// the weights themselves.
#[test]
fn generation_after_a_training_step_reads_the_new_weights() {
    for lora in [false, true] {
        let source = LoraSource::Fresh(LoraConfig { rank: 2, alpha: 4.0, target_modules: vec![], seed: 1 });
        let engine = Engine::random(TINY_LLAMA_JSON, 3, lora.then_some(&source)).unwrap();
        let prompts: Vec<&[i32]> = vec![&[1, 2, 3], &[9, 4], &[7, 7, 30, 2]];
        let options = GenerateOptions { max_new_tokens: 4, sampling: SamplingParams { temperature: 0.7, ..Default::default() }, stop_token_ids: vec![], seed: 3, row_seeds: None };
        let before = engine.generate(&prompts, &options).unwrap();
        let mut b = batch(None);
        b.old_logprobs = Some(b.sequences.iter().map(|s| vec![-3.0; s.len()]).collect());
        let mut config = TrainConfig { micro_batch_size: 2, ..config(LossKind::TokenClip) };
        (config.loss.beta, config.learning_rate) = (0.0, 0.05);
        assert!(!engine.train_step(&b, &config).unwrap().skipped);
        let after = engine.generate(&prompts, &options).unwrap();
        let reference = with_reference_path(|| engine.generate(&prompts, &options).unwrap());
        let logprobs = |x: &Vec<Completion>| x.iter().flat_map(|c| c.logprobs.clone()).collect::<Vec<f32>>();
        let moved = logprobs(&before).iter().zip(logprobs(&after)).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(moved > 1e-3, "lora {lora}: the step did not change the model ({moved})");
        for (a, r) in after.iter().zip(&reference) {
            assert_eq!(a.tokens, r.tokens, "lora {lora}");
            a.logprobs.iter().zip(&r.logprobs).for_each(|(x, y)| assert!((x - y).abs() < 1e-4, "lora {lora}: {x} vs {y}"));
        }
    }
}

const TINY_LLAMA_JSON: &str = r#"{"model_type":"llama","hidden_size":16,"num_attention_heads":4,"num_key_value_heads":2,
    "num_hidden_layers":2,"intermediate_size":32,"vocab_size":40,"rope_theta":5000,"max_position_embeddings":32}"#;

//! Parity with PyTorch transformers: the decoders reproduce the logits recorded by
//! tools/make_parity_fixtures.py (test/fixtures/parity) to 1e-4, through both the
//! differentiable training path and the fused inference path.

use std::path::PathBuf;

use candle_core::{Device, Tensor, D};
use serde_json::Value;

use super::{Decoder, Params};
use crate::io::load_model;

fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../test/fixtures/parity").join(path)
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

/// Compares every recorded sequence: full logit rows at the recorded positions, and the
/// argmax and log-sum-exp at every position.
fn check(model_path: &str, logits_json: &str) {
    let model = load_model(&fixture(model_path)).unwrap();
    let record: Value = serde_json::from_str(&std::fs::read_to_string(fixture(logits_json)).unwrap()).unwrap();
    let params = Params::new(&model.weights).unwrap();
    for (path, weights) in [("training", params.tracked()), ("inference", params.detached())] {
        let decoder = Decoder::new(&model.config, &weights).unwrap();
        for seq in record["sequences"].as_array().unwrap() {
            let ids: Vec<u32> = seq["ids"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect();
            let input = Tensor::from_slice(&ids, (1, ids.len()), &Device::Cpu).unwrap();
            let logits = decoder.logits(&decoder.forward(&input, &[0], None).unwrap().squeeze(0).unwrap()).unwrap();
            let argmax: Vec<u32> = logits.argmax(D::Minus1).unwrap().to_vec1().unwrap();
            let lse: Vec<f32> = logits.log_sum_exp(D::Minus1).unwrap().to_vec1().unwrap();
            let rows: Vec<Vec<f32>> = logits.to_vec2().unwrap();
            let expected_argmax: Vec<u32> = seq["argmax"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect();
            assert_eq!(argmax, expected_argmax, "{model_path} ({path}): argmax");
            for (t, (a, b)) in lse.iter().zip(floats(&seq["logsumexp"])).enumerate() {
                assert!((a - b).abs() <= 1e-4, "{model_path} ({path}): logsumexp at {t}: {a} vs {b}");
            }
            for (p, expected) in seq["positions"].as_array().unwrap().iter().zip(seq["logits"].as_array().unwrap()) {
                let p = p.as_u64().unwrap() as usize;
                let diff = rows[p].iter().zip(floats(expected)).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
                assert!(diff <= 1e-4, "{model_path} ({path}): logits at position {p} differ by {diff}");
            }
        }
    }
}

#[test]
fn gpt2_matches_transformers_logits() {
    check("gpt2", "gpt2/logits.json");
}

#[test]
fn llama_with_gqa_and_untied_head_matches_transformers_logits() {
    check("llama", "llama/logits.json");
}

#[test]
fn gguf_llama_matches_transformers_logits_in_f32_and_q8_0() {
    check("llama-gguf/model-f32.gguf", "llama/logits.json");
    check("llama-gguf/model-q8_0.gguf", "llama-gguf/logits-q8_0.json");
}

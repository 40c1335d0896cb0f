//! LoRA on the tiny test decoders: the model starts as the base model, gradients reach the
//! adapters and nothing else, and adapters round-trip through the PEFT layout.

use candle_core::{DType, Tensor};

use super::{Lora, LoraConfig};
use crate::model::tests::{tiny_gpt2, tiny_llama, weights};
use crate::model::{Decoder, ModelConfig, Params};
use crate::train::tests::{batch, samples_of};
use crate::train::gradients::batch_gradients;

fn logits(c: &ModelConfig, weights: &crate::model::Weights) -> Tensor {
    let d = Decoder::new(c, weights).unwrap();
    let ids = Tensor::new(&[[1u32, 7, 3, 39, 12]], &candle_core::Device::Cpu).unwrap();
    d.logits(&d.forward(&ids, &[0], None).unwrap()).unwrap()
}

fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar().unwrap()
}

#[test]
fn adapters_start_at_the_base_model_and_only_they_receive_gradients() {
    for c in [tiny_gpt2(), tiny_llama()] {
        let params = Params::new(&weights(&c, DType::F32)).unwrap();
        let lora = Lora::new(LoraConfig { rank: 2, alpha: 4.0, target_modules: vec![], seed: 1 }, &c, &params).unwrap();
        assert_eq!(lora.adapted_layers(), 2 * c.num_layers * if c.architecture == crate::model::Architecture::Gpt2 { 1 } else { 2 });
        assert!(max_diff(&logits(&c, &lora.training_weights(&params).unwrap()), &logits(&c, &params.detached())) < 1e-6);

        let decoder = Decoder::new(&c, &lora.training_weights(&params).unwrap()).unwrap();
        let mut all: Vec<_> = lora.params().into_iter().map(|p| p.var).collect();
        let adapters = all.len();
        all.extend(params.vars().values().cloned());
        let (grads, _) = batch_gradients(&decoder, &samples_of(&batch(None), &c), &crate::train::TrainConfig::new(crate::loss::LossConfig::new(crate::loss::LossKind::Sft), 1e-3), &all).unwrap();
        for (i, var) in all.iter().enumerate() {
            let has = grads.get(var.as_tensor()).map(|g| g.abs().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap() > 0.0);
            if i < adapters {
                // B starts at zero, so A's gradient (through B) is zero at step 0; B's is not.
                assert!(has.is_some(), "{:?}: adapter {i} has no gradient", c.architecture);
                if i % 2 == 1 {
                    assert_eq!(has, Some(true), "{:?}: lora_B {i} has a zero gradient", c.architecture);
                }
            } else {
                assert!(has.is_none(), "{:?}: a frozen base weight received a gradient", c.architecture);
            }
        }
    }
}

#[test]
fn adapters_round_trip_through_the_peft_layout_and_merge() {
    let c = tiny_llama();
    let params = Params::new(&weights(&c, DType::F32)).unwrap();
    let lora = Lora::new(LoraConfig { rank: 3, alpha: 6.0, target_modules: vec!["q_proj".into(), "down_proj".into()], seed: 1 }, &c, &params).unwrap();
    for p in lora.params() {
        p.var.set(&(p.var.as_tensor() + 0.05).unwrap()).unwrap();
    }
    lora.refresh(&params).unwrap();
    let adapted = logits(&c, &lora.training_weights(&params).unwrap());
    assert!(max_diff(&adapted, &logits(&c, &params.detached())) > 1e-3);
    assert!(max_diff(&adapted, &logits(&c, &lora.inference_weights(&params).unwrap())) < 1e-5, "merged weights compute what the adapters do");

    let dir = std::env::temp_dir().join(format!("stateset-lora-{}", std::process::id()));
    lora.save(&dir, None).unwrap();
    let loaded = Lora::load(&dir, &c, &params).unwrap();
    assert_eq!(loaded.config.rank, 3);
    assert_eq!(max_diff(&logits(&c, &loaded.inference_weights(&params).unwrap()), &logits(&c, &lora.inference_weights(&params).unwrap())), 0.0);
    let other = Params::new(&weights(&tiny_gpt2(), DType::F32)).unwrap();
    let err = Lora::load(&dir, &tiny_gpt2(), &other).err().unwrap();
    assert!(err.message.contains("q_proj"), "{}", err.message);
    std::fs::remove_dir_all(&dir).unwrap();
}

//! Training steps must not hold on to memory: the gradients candle returns for weights
//! carry the graph of the forward pass that made them, and anything that keeps such a
//! gradient across steps (the optimizer's moments) keeps every step's activations alive.
//! A test binary of its own, so that no other test allocates while RSS is read.

use rl_core::engine::Engine;
use rl_core::loss::{LossConfig, LossKind};
use rl_core::model::Architecture;
use rl_core::tiny::make_tiny_model;
use rl_core::train::{TrainBatch, TrainConfig};

/// Resident set size in bytes, from /proc/self/statm (Linux).
fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

#[test]
fn repeated_train_steps_keep_memory_flat() {
    let Some(_) = rss_bytes() else { return }; // no /proc: nothing to measure
    let engine = Engine::new(make_tiny_model(Architecture::Gpt2, 3).unwrap()).unwrap();
    let vocab = engine.model.config.vocab_size as i32;
    // 16 x 170 tokens: each step's attention activations (~100 MB in all) dwarf the bound.
    let (batch, width) = (16, 170);
    let sequences: Vec<Vec<i32>> = (0..batch).map(|b| (0..width).map(|t| (b * 7 + t * 13) % (vocab - 10) + 10).collect()).collect();
    let masks = sequences.iter().map(|s| (0..s.len()).map(|t| u8::from(t > 20)).collect()).collect();
    let batch = TrainBatch { sequences, masks, old_logprobs: None, advantages: None, ref_logprobs: None };
    let config = TrainConfig::new(LossConfig::new(LossKind::Sft), 1e-3);
    let step = || assert!(engine.train_step(&batch, &config).unwrap().loss.is_finite());

    // Warm-up: the optimizer's moments and the allocator's pools settle.
    for _ in 0..3 {
        step();
    }
    let before = rss_bytes().unwrap();
    for _ in 0..8 {
        step();
    }
    let grown = rss_bytes().unwrap().saturating_sub(before) as f64 / 1e6;
    assert!(grown < 30.0, "RSS grew by {grown:.0} MB over 8 train steps after warm-up");
}

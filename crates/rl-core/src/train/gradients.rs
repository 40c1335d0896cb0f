//! The gradient of a batch's policy loss, micro-batch by micro-batch. Per micro-batch: a
//! forward pass that records the graph, the loss tokens' log-probs through the chunked
//! head, `compute_policy_loss` with the whole batch's normalizer (so micro-batch losses
//! and gradients add up to the full batch's), the head's backward, then the decoder's
//! backward from the hidden states with sum(hidden * dL/dhidden).

use candle_core::backprop::GradStore;
use candle_core::{Device, Tensor, Var};

use super::batch::Sample;
use super::config::TrainConfig;
use super::head::{head_backward, head_values};
use super::metrics::Summary;
use crate::error::Result;
use crate::loss::{compute_policy_loss, LossInput, Normalizer};
use crate::model::Decoder;

/// Gradients of the `trainable` variables (those the decoder's weights derive from),
/// summed over the batch. Candle's backward also computes gradients of frozen weights;
/// only the trainable ones are kept.
pub(crate) fn batch_gradients(decoder: &Decoder, samples: &[Sample], config: &TrainConfig, trainable: &[Var]) -> Result<(GradStore, Summary)> {
    // Sequences without loss tokens change nothing: leave them out of the micro-batches.
    let samples: Vec<&Sample> = samples.iter().filter(|s| !s.targets.is_empty()).collect();
    let normalizer = normalizer_of(&samples, config.loss.max_completion_length)?;
    let mut sums: Vec<Option<Tensor>> = vec![None; trainable.len()];
    let mut summary = Summary::new();
    for micro in samples.chunks(config.micro_batch_size) {
        let grads = micro_batch(decoder, micro, normalizer, config, &mut summary)?;
        for (sum, var) in sums.iter_mut().zip(trainable) {
            if let Some(g) = grads.get(var.as_tensor()) {
                *sum = Some(match sum.take() {
                    Some(s) => (s + g)?,
                    None => g.clone(),
                });
            }
        }
    }
    let mut grads = GradStore::default();
    for (sum, var) in sums.into_iter().zip(trainable) {
        if let Some(g) = sum {
            grads.insert(var.as_tensor(), g);
        }
    }
    Ok((grads, summary))
}

/// The loss denominators of the whole batch (only loss tokens are passed to the loss).
fn normalizer_of(samples: &[&Sample], max_completion_length: Option<usize>) -> Result<Normalizer> {
    let (mask, offsets) = loss_layout(samples);
    Normalizer::of_batch(&mask, Some(&offsets), max_completion_length)
}

/// The loss's view of some samples: every token a loss token, one sequence each.
fn loss_layout(samples: &[&Sample]) -> (Vec<u8>, Vec<i32>) {
    let mut offsets = vec![0i32];
    for s in samples {
        offsets.push(offsets.last().unwrap() + s.targets.len() as i32);
    }
    (vec![1u8; *offsets.last().unwrap() as usize], offsets)
}

/// Per-token values of the samples back to back, when every sample has them.
fn concat(samples: &[&Sample], field: impl Fn(&Sample) -> Option<&Vec<f32>>) -> Option<Vec<f32>> {
    samples.iter().map(|s| field(s).map(|v| v.as_slice())).collect::<Option<Vec<_>>>().map(|parts| parts.concat())
}

fn micro_batch(decoder: &Decoder, samples: &[&Sample], normalizer: Normalizer, config: &TrainConfig, summary: &mut Summary) -> Result<GradStore> {
    let width = samples.iter().map(|s| s.ids.len()).max().unwrap_or(0);
    // Right padding: causal attention keeps it out of every real token's view.
    let mut ids = vec![0u32; samples.len() * width];
    let (mut rows, mut tokens) = (Vec::new(), Vec::new());
    for (b, s) in samples.iter().enumerate() {
        ids[b * width..b * width + s.ids.len()].copy_from_slice(&s.ids);
        for &t in &s.targets {
            // Token t is predicted from the hidden state of position t - 1.
            rows.push((b * width + t - 1) as u32);
            tokens.push(s.ids[t]);
        }
    }
    let ids = Tensor::from_vec(ids, (samples.len(), width), &Device::Cpu)?;
    let hidden = decoder.forward(&ids, &vec![0; samples.len()], None)?.flatten_to(1)?;
    let rows = Tensor::from_vec(rows, tokens.len(), &Device::Cpu)?;
    let picked = hidden.detach().index_select(&rows, 0)?;
    let lm_head = decoder.lm_head();
    let head = lm_head.detach();
    let values = head_values(&picked, &head, &tokens, config.temperature)?;

    let (mask, offsets) = loss_layout(samples);
    let (old, advantages, reference) =
        (concat(samples, |s| s.old_logprobs.as_ref()), concat(samples, |s| s.advantages.as_ref()), concat(samples, |s| s.ref_logprobs.as_ref()));
    let input = LossInput {
        logprobs: &values.logprobs,
        old_logprobs: old.as_deref(),
        ref_logprobs: reference.as_deref(),
        advantages: advantages.as_deref(),
        mask: &mask,
        offsets: Some(&offsets),
        normalizer: Some(normalizer),
    };
    let out = compute_policy_loss(&input, &config.loss)?;

    let (dpicked, dhead) = head_backward(&picked, &head, &tokens, &values, &out.grad, config.temperature, lm_head.is_variable())?;
    let dhidden = hidden.zeros_like()?.index_add(&rows, &dpicked, 0)?;
    let mut grads = (hidden * dhidden)?.sum_all()?.backward()?;
    if let Some(dhead) = dhead {
        // A tied head is the token embedding: its two gradients add up.
        let total = match grads.remove(lm_head) {
            Some(g) => (g + dhead)?,
            None => dhead,
        };
        grads.insert(lm_head, total);
    }
    summary.add(&out, &values.entropy);
    Ok(grads)
}

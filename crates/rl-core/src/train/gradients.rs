//! The gradient of a batch's policy loss, micro-batch by micro-batch. Per micro-batch: a
//! forward pass that records the graph, the loss tokens' log-probs through the chunked
//! head, `compute_policy_loss` with the whole batch's normalizer (so micro-batch losses
//! and gradients add up to the full batch's), the head's backward, then the decoder's
//! backward from the hidden states with sum(hidden * dL/dhidden).
//!
//! A forward pass whose log-probs are not finite (overflowing activations, a poisoned
//! weight) ends the batch there: nothing is accumulated and the summary's loss is NaN, so
//! the step is skipped like one with a non-finite gradient, instead of failing.

use candle_core::backprop::GradStore;
use candle_core::{Device, Tensor, Var};

use super::batch::Sample;
use super::config::TrainConfig;
use super::head::{head_backward, head_values};
use super::metrics::Summary;
use crate::error::Result;
use crate::loss::{compute_policy_loss, LossInput, LossOutput, Normalizer};
use crate::model::{Context, Decoder};

/// Gradients of the `trainable` variables (those the decoder's weights derive from),
/// summed over the batch.
pub(crate) fn batch_gradients(decoder: &Decoder, samples: &[Sample], config: &TrainConfig, trainable: &[Var]) -> Result<(GradStore, Summary)> {
    // Sequences without loss tokens change nothing: leave them out of the micro-batches.
    let samples: Vec<&Sample> = samples.iter().filter(|s| !s.targets.is_empty()).collect();
    let normalizer = normalizer_of(&samples, config.loss.max_completion_length)?;
    let mut sums = Accumulator::new(trainable);
    let mut summary = Summary::new();
    for micro in samples.chunks(config.micro_batch_size) {
        if !micro_batch(decoder, micro, normalizer, config, &mut sums, &mut summary)? {
            summary.mark_non_finite();
            break;
        }
    }
    Ok((sums.finish(), summary))
}

/// Sums the gradients of the trainable variables over backward passes. Candle's backward
/// also computes gradients of frozen weights and of activations; those are dropped.
pub(crate) struct Accumulator<'a> {
    vars: &'a [Var],
    sums: Vec<Option<Tensor>>,
}

impl<'a> Accumulator<'a> {
    pub fn new(vars: &'a [Var]) -> Self {
        Accumulator { vars, sums: vec![None; vars.len()] }
    }

    fn add(&mut self, grads: &GradStore) -> Result<()> {
        for (sum, var) in self.sums.iter_mut().zip(self.vars) {
            if let Some(g) = grads.get(var.as_tensor()) {
                // Detached: a weight's gradient references its micro-batch's forward graph,
                // which would otherwise live until the end of the step.
                let g = g.detach();
                *sum = Some(match sum.take() {
                    Some(s) => (s + g)?,
                    None => g,
                });
            }
        }
        Ok(())
    }

    pub fn finish(self) -> GradStore {
        let mut grads = GradStore::default();
        for (sum, var) in self.sums.into_iter().zip(self.vars) {
            if let Some(g) = sum {
                grads.insert(var.as_tensor(), g);
            }
        }
        grads
    }
}

/// The loss denominators of the whole batch (only loss tokens are passed to the loss).
pub(crate) fn normalizer_of(samples: &[&Sample], max_completion_length: Option<usize>) -> Result<Normalizer> {
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

/// The tokens a micro-batch predicts: rows of the flattened [batch * width] positions
/// (token t is predicted from position t - 1) and the target ids.
pub(crate) struct Targets {
    pub rows: Vec<u32>,
    pub tokens: Vec<u32>,
}

/// A micro-batch laid out for the decoder: the ids right-padded to the longest ([batch *
/// width], flattened), the width, and the tokens it predicts. Right padding: causal
/// attention keeps it out of every real token's view.
pub(crate) fn micro_batch_layout(samples: &[&Sample]) -> (Vec<u32>, usize, Targets) {
    let width = samples.iter().map(|s| s.ids.len()).max().unwrap_or(0);
    let mut ids = vec![0u32; samples.len() * width];
    let (mut rows, mut tokens) = (Vec::new(), Vec::new());
    for (b, s) in samples.iter().enumerate() {
        ids[b * width..b * width + s.ids.len()].copy_from_slice(&s.ids);
        for &t in &s.targets {
            rows.push((b * width + t - 1) as u32);
            tokens.push(s.ids[t]);
        }
    }
    (ids, width, Targets { rows, tokens })
}

/// Adds the micro-batch's gradients to `sums`; false (nothing added) when its log-probs are not finite.
fn micro_batch(decoder: &Decoder, samples: &[&Sample], normalizer: Normalizer, config: &TrainConfig, sums: &mut Accumulator, summary: &mut Summary) -> Result<bool> {
    let (ids, width, targets) = micro_batch_layout(samples);
    let ids = Tensor::from_vec(ids, (samples.len(), width), &Device::Cpu)?;
    let head = |hidden: &Tensor| head_gradients(decoder, hidden, &targets, samples, normalizer, config, summary);
    decoder_backward(decoder, &ids, config.activation_checkpointing, head, sums)
}

/// A forward pass over `ids` ([batch, width], right-padded) that records the graph, `head`'s
/// backward from the final hidden states [batch, width, hidden] (which carry the graph), and
/// the decoder's backward from there; the trainable variables' gradients go into `sums`.
/// False (and nothing added) when `head` gives no gradients (non-finite log-probs).
/// With `checkpointing`, only each block's input is kept and the backward recomputes one
/// block at a time.
pub(crate) fn decoder_backward(
    decoder: &Decoder,
    ids: &Tensor,
    checkpointing: bool,
    head: impl FnOnce(&Tensor) -> Result<Option<GradStore>>,
    sums: &mut Accumulator,
) -> Result<bool> {
    let (rows, width) = ids.dims2()?;
    if !checkpointing {
        let hidden = decoder.forward(ids, &vec![0; rows], None)?;
        let Some(grads) = head(&hidden)? else { return Ok(false) };
        sums.add(&grads)?;
        return Ok(true);
    }
    let ctx = Context::new(&vec![0; rows], 0, width, decoder.config().max_position_embeddings, decoder.dtype())?;
    let mut inputs = Vec::with_capacity(decoder.layers());
    let mut x = decoder.embed(ids, &ctx)?.detach();
    for layer in 0..decoder.layers() {
        let next = decoder.block(layer, &x, &ctx)?.detach();
        inputs.push(x);
        x = next;
    }
    let Some(mut grads) = backward_from(&x, |leaf: &Tensor| head(&decoder.final_norm(leaf)?), sums)? else { return Ok(false) };
    for (layer, input) in inputs.iter().enumerate().rev() {
        let block = |leaf: &Tensor| Ok(Some((decoder.block(layer, leaf, &ctx)? * &grads)?.sum_all()?.backward()?));
        grads = backward_from(input, block, sums)?.expect("a block's backward always gives gradients");
    }
    let grads = (decoder.embed(ids, &ctx)? * grads)?.sum_all()?.backward()?;
    sums.add(&grads)?;
    Ok(true)
}

/// Runs `backward` (a forward from `input` and its backward) with `input` as a leaf,
/// adds the weights' gradients to `sums` and returns the gradient of `input`; `None` when
/// `backward` gave none (the head's log-probs were not finite).
fn backward_from(input: &Tensor, backward: impl FnOnce(&Tensor) -> Result<Option<GradStore>>, sums: &mut Accumulator) -> Result<Option<Tensor>> {
    let leaf = Var::from_tensor(input)?;
    let Some(grads) = backward(leaf.as_tensor())? else { return Ok(None) };
    sums.add(&grads)?;
    Ok(Some(match grads.get(leaf.as_tensor()) {
        // Detached: the next block needs its value, not a path back into this block's graph.
        Some(g) => g.detach(),
        None => input.zeros_like()?,
    }))
}

/// The loss of the micro-batch from its final hidden states [batch, width, hidden] (which
/// carry a graph), and the gradients of its backward; `None` when a log-prob is not finite.
fn head_gradients(
    decoder: &Decoder,
    hidden: &Tensor,
    targets: &Targets,
    samples: &[&Sample],
    normalizer: Normalizer,
    config: &TrainConfig,
    summary: &mut Summary,
) -> Result<Option<GradStore>> {
    let hidden = hidden.flatten_to(1)?;
    let rows = Tensor::new(targets.rows.as_slice(), &Device::Cpu)?;
    let picked = hidden.detach().index_select(&rows, 0)?;
    let lm_head = decoder.lm_head();
    let Some((dpicked, dhead)) = loss_at_targets(&picked, &lm_head.detach(), lm_head.is_variable(), &targets.tokens, samples, normalizer, config, summary)? else {
        return Ok(None);
    };
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
    Ok(Some(grads))
}

/// The loss at the loss tokens from their final hidden states `picked` [n, hidden] and the
/// output projection `head` [vocab, hidden] (neither carries a graph): adds the loss to
/// `summary` and returns its gradients with respect to `picked` and, when `weight_grad`,
/// to `head`; `None` (nothing added) when a log-prob is not finite.
#[allow(clippy::too_many_arguments)]
pub(crate) fn loss_at_targets(
    picked: &Tensor,
    head: &Tensor,
    weight_grad: bool,
    tokens: &[u32],
    samples: &[&Sample],
    normalizer: Normalizer,
    config: &TrainConfig,
    summary: &mut Summary,
) -> Result<Option<(Tensor, Option<Tensor>)>> {
    let mut values = head_values(picked, head, tokens, config.temperature)?;
    if values.logprobs.iter().any(|l| !l.is_finite()) {
        return Ok(None);
    }
    let out = policy_loss(&values.logprobs, samples, normalizer, config)?;
    let gradients = head_backward(picked, head, tokens, &mut values, &out.grad, config.temperature, weight_grad)?;
    summary.add(&out, &values.entropy);
    Ok(Some(gradients))
}

/// The policy loss of the micro-batch's loss tokens from their log-probs, with the whole
/// batch's normalizer.
pub(crate) fn policy_loss(logprobs: &[f32], samples: &[&Sample], normalizer: Normalizer, config: &TrainConfig) -> Result<LossOutput> {
    let (mask, offsets) = loss_layout(samples);
    let (old, advantages, reference) =
        (concat(samples, |s| s.old_logprobs.as_ref()), concat(samples, |s| s.advantages.as_ref()), concat(samples, |s| s.ref_logprobs.as_ref()));
    let input = LossInput {
        logprobs,
        old_logprobs: old.as_deref(),
        ref_logprobs: reference.as_deref(),
        advantages: advantages.as_deref(),
        mask: &mask,
        offsets: Some(&offsets),
        normalizer: Some(normalizer),
    };
    compute_policy_loss(&input, &config.loss)
}

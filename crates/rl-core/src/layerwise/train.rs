//! A batch's gradients through the layer-wise Llama engine (llama.rs), in place of candle's
//! autograd: the same micro-batches, loss head and normalizers as `train::gradients`, the
//! gradients accumulated in one flat buffer per weight across micro-batches, and handed to
//! the optimizer as the same `GradStore`.

use std::time::Instant;

use candle_core::backprop::GradStore;
use rayon::prelude::*;
use candle_core::{DType, Device, Tensor, Var};

use super::head::Head;
use super::linear::{Grads, Weight};
use super::ends::Ends;
use super::shape::{rotary_frequencies, Positions, Shape};
use super::weights::{bias_name, lookup, per_layer, weight_names, Indices, Locked, WeightLocks};
use super::{gpt2, llama};
use crate::error::{CoreError, ErrorCode, Result};
use crate::lora::Lora;
use crate::loss::Normalizer;
use crate::model::{Architecture, ModelConfig, Params};
use crate::train::batch::Sample;
use crate::train::config::TrainConfig;
use crate::train::gradients::{micro_batch_layout, normalizer_of, policy_loss};
use crate::train::metrics::Summary;

/// Whether the engine trains this model: every architecture the project loads, in f32
/// (with or without LoRA adapters), outside a test's reference switch. f64 models (the
/// gradient checks) go through candle's autograd.
pub(crate) fn applies(params: &Params) -> bool {
    params.vars().values().all(|v| v.dtype() == DType::F32) && !crate::model::layers::reference_path()
}

/// Gradients of what trains, summed over the batch: every weight of the model, or with
/// `lora` its adapters only (the base weights are frozen and get none).
pub(crate) fn batch_gradients(params: &Params, lora: Option<&Lora>, config: &ModelConfig, samples: &[Sample], train: &TrainConfig) -> Result<(GradStore, Summary)> {
    let samples: Vec<&Sample> = samples.iter().filter(|s| !s.targets.is_empty()).collect();
    let normalizer = normalizer_of(&samples, train.loss.max_completion_length)?;
    let names = weight_names(config);
    let vars = lookup(&names, |n| params.vars().get(n))?;
    // Each weight's adapter (A and B) by the weight's index.
    let mut adapters: Vec<Option<[Var; 2]>> = vec![None; names.len()];
    if let Some(lora) = lora {
        for (module, a, b) in lora.factors() {
            let at = names.iter().position(|n| n.strip_suffix(".weight") == Some(module)).ok_or_else(|| CoreError::new(ErrorCode::InvalidModel, format!("no weight for the adapter of {module}")))?;
            adapters[at] = Some([a.clone(), b.clone()]);
        }
    }
    let biases: Vec<Option<&Var>> = names.iter().map(|n| bias_name(n).and_then(|b| params.vars().get(&b))).collect();
    let locks = WeightLocks {
        weights: Locked::new(vars.iter().map(|v| Some(v.as_tensor()))),
        biases: Locked::new(biases.iter().map(|b| b.map(Var::as_tensor))),
        adapters: [0, 1].map(|j| Locked::new(adapters.iter().map(|ad| ad.as_ref().map(|pair| pair[j].as_tensor())))),
    };
    let weights = locks.views(config, lora.map_or(1.0, |l| l.scale() as f32))?;
    // Buffers for what trains, zeroed once and accumulated over the micro-batches.
    let full = lora.is_none();
    let mut grads: Vec<Option<Vec<f32>>> = weights.iter().map(|w| full.then(|| written_zeros(w.w.len()))).collect();
    let mut bias_grads: Vec<Option<Vec<f32>>> = weights.iter().map(|w| w.bias.filter(|_| full).map(|b| written_zeros(b.len()))).collect();
    let mut adapter_grads: Vec<Option<[Vec<f32>; 2]>> = weights.iter().map(|w| w.lora.as_ref().map(|l| [written_zeros(l.a.len()), written_zeros(l.b.len())])).collect();
    let mut summary = Summary::new();
    for micro in samples.chunks(train.micro_batch_size) {
        let mut views: Vec<Grads> = grads
            .iter_mut()
            .zip(bias_grads.iter_mut())
            .zip(adapter_grads.iter_mut())
            .map(|((g, b), a)| Grads { w: g.as_deref_mut(), bias: b.as_deref_mut(), lora: a.as_mut().map(|[a, b]| [a.as_mut_slice(), b.as_mut_slice()]) })
            .collect();
        if !micro_batch(config, &weights, &mut views, micro, normalizer, train, &mut summary)? {
            summary.mark_non_finite();
            break;
        }
    }
    drop(weights);
    drop(locks);
    let mut store = GradStore::default();
    let mut insert = |var: &Var, g: Vec<f32>| -> Result<()> {
        let shape = var.as_tensor().shape().clone();
        store.insert(var.as_tensor(), Tensor::from_vec(g, shape, &Device::Cpu)?);
        Ok(())
    };
    for (((var, g), (bias, bg)), (adapter, ag)) in vars.into_iter().zip(grads).zip(biases.iter().zip(bias_grads)).zip(adapters.iter().zip(adapter_grads)) {
        if let Some(g) = g {
            insert(var, g)?;
        }
        if let (Some(bias), Some(bg)) = (bias, bg) {
            insert(bias, bg)?;
        }
        if let (Some([a, b]), Some([ga, gb])) = (adapter, ag) {
            insert(a, ga)?;
            insert(b, gb)?;
        }
    }
    Ok((store, summary))
}

/// A gradient buffer of zeros written now, in parallel. `vec![0.0; n]` would map the kernel's
/// shared zero page, and the first accumulation into it (a read, then a write) would then
/// take a copy-on-write fault and a TLB flush on every core per page: measured as ~8% of a
/// 135M training step.
fn written_zeros(n: usize) -> Vec<f32> {
    let mut v: Vec<f32> = Vec::with_capacity(n);
    v.spare_capacity_mut().par_chunks_mut(1 << 16).for_each(|c| c.iter_mut().for_each(|x| {
        x.write(0.0);
    }));
    // SAFETY: every element up to the capacity was written just above.
    unsafe { v.set_len(n) };
    v
}

/// A block's saved activations, by architecture.
enum Saved {
    Llama(llama::Saved),
    Gpt2(gpt2::Saved),
}

impl Saved {
    fn into_input(self) -> Vec<f32> {
        match self {
            Saved::Llama(s) => s.into_input(),
            Saved::Gpt2(s) => s.into_input(),
        }
    }
}

/// The blocks of one model and micro-batch: forward and backward of block `l`.
struct Blocks<'a> {
    arch: Architecture,
    weights: &'a [Weight<'a>],
    shape: Shape,
    positions: Positions,
    per_layer: usize,
}

impl Blocks<'_> {
    fn forward(&self, l: usize, input: Vec<f32>) -> (Vec<f32>, Saved) {
        let n = self.per_layer;
        let w = &self.weights[l * n..(l + 1) * n];
        match self.arch {
            Architecture::Llama => {
                let (out, s) = llama::block_forward(&llama::Block::from_array(std::array::from_fn(|j| w[j])), self.shape, &self.positions, input);
                (out, Saved::Llama(s))
            }
            Architecture::Gpt2 => {
                let (out, s) = gpt2::block_forward(&gpt2::Block::from_array(std::array::from_fn(|j| w[j])), self.shape, &self.positions, input);
                (out, Saved::Gpt2(s))
            }
        }
    }

    fn backward(&self, l: usize, grads: &mut [Grads], saved: Saved, d_out: &[f32]) -> Vec<f32> {
        let n = self.per_layer;
        let w = &self.weights[l * n..(l + 1) * n];
        let mut g = grads[l * n..(l + 1) * n].iter_mut();
        let mut view = || {
            let g = g.next().unwrap();
            Grads { w: g.w.as_deref_mut(), bias: g.bias.as_deref_mut(), lora: g.lora.as_mut().map(|[a, b]| [&mut **a, &mut **b]) }
        };
        match (self.arch, saved) {
            (Architecture::Llama, Saved::Llama(s)) => {
                let mut views = llama::Block::from_array(std::array::from_fn(|_| view()));
                llama::block_backward(&llama::Block::from_array(std::array::from_fn(|j| w[j])), &mut views, self.shape, &self.positions, s, d_out)
            }
            (Architecture::Gpt2, Saved::Gpt2(s)) => {
                let mut views = gpt2::Block::from_array(std::array::from_fn(|_| view()));
                gpt2::block_backward(&gpt2::Block::from_array(std::array::from_fn(|j| w[j])), &mut views, self.shape, &self.positions, s, d_out)
            }
            _ => unreachable!("saved activations come from the same architecture"),
        }
    }
}


/// Adds one micro-batch's gradients to `grads`; false (nothing added) when its log-probs are not finite.
fn micro_batch(config: &ModelConfig, weights: &[Weight], grads: &mut [Grads], samples: &[&Sample], normalizer: Normalizer, train: &TrainConfig, summary: &mut Summary) -> Result<bool> {
    let (layers, n) = (config.num_layers, per_layer(config));
    let Indices { embed: embed_at, head: head_at, .. } = Indices::new(config);
    let (ids, width, targets) = micro_batch_layout(samples);
    let shape = Shape::new(config, samples.len(), width);
    let hidden = config.hidden_size;
    let blocks = Blocks { arch: config.architecture, weights: &weights[..embed_at], shape, positions: Positions::new(shape, &rotary_frequencies(config)), per_layer: n };

    // Forward: each block's saved activations, or only its input when recomputing.
    let started = Instant::now();
    let ends = Ends::new(config, weights);
    let mut x = ends.embed(&ids, &blocks.positions.of_row);
    let mut saved: Vec<Saved> = Vec::new();
    let mut inputs: Vec<Vec<f32>> = Vec::new();
    for l in 0..layers {
        let (out, s) = blocks.forward(l, x);
        if train.activation_checkpointing {
            inputs.push(s.into_input());
        } else {
            saved.push(s);
        }
        x = out;
    }
    let (final_hidden, stats) = ends.final_norm(&x);

    // The loss head at the loss tokens.
    let head_started = Instant::now();
    let picked: Vec<f32> = targets.rows.iter().flat_map(|&r| final_hidden[r as usize * hidden..(r as usize + 1) * hidden].iter().copied()).collect();
    drop(final_hidden);
    let head = Head { weight: weights[head_at].w, hidden, temperature: train.temperature };
    let values = head.values(&picked, &targets.tokens);
    if values.logprobs.iter().any(|l| !l.is_finite()) {
        return Ok(false);
    }
    let out = policy_loss(&values.logprobs, samples, normalizer, train)?;
    summary.add(&out, &values.entropy);
    let d_picked = head.backward(&picked, &targets.tokens, values, &out.grad, grads[head_at].w.as_deref_mut())?;
    let mut d_hidden = vec![0f32; x.len()];
    for (&r, d) in targets.rows.iter().zip(d_picked.chunks(hidden)) {
        let row = &mut d_hidden[r as usize * hidden..(r as usize + 1) * hidden];
        row.iter_mut().zip(d).for_each(|(t, d)| *t += d);
    }

    // Backward, last block first.
    let backward_started = Instant::now();
    let mut dx = ends.final_norm_backward(grads, &d_hidden, &x, &stats);
    drop((x, d_hidden));
    for l in (0..layers).rev() {
        let s = match inputs.pop() {
            Some(input) => blocks.forward(l, input).1,
            None => saved.pop().expect("one saved block per layer"),
        };
        dx = blocks.backward(l, grads, s, &dx);
    }
    ends.embed_backward(grads, &ids, &blocks.positions.of_row, &dx);
    let seconds = |from: Instant, to: Instant| (to - from).as_secs_f64();
    summary.add_phases(seconds(started, head_started), seconds(head_started, backward_started), backward_started.elapsed().as_secs_f64());
    Ok(true)
}

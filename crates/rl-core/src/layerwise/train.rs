//! A batch's gradients through the layer-wise Llama engine (llama.rs), in place of candle's
//! autograd: the same micro-batches, loss head and normalizers as `train::gradients`, the
//! gradients accumulated in one flat buffer per weight across micro-batches, and handed to
//! the optimizer as the same `GradStore`.

use std::time::Instant;

use candle_core::backprop::GradStore;
use candle_core::{CpuStorage, DType, Device, Storage, Tensor, Var};

use super::llama::{block_backward, block_forward, embed, embed_backward, final_norm_backward, Adapter, Block, Grads, Positions, Saved, Shape, Weight, BLOCK_WEIGHTS};
use super::ops::{add_into, rms_norm};
use crate::error::{CoreError, ErrorCode, Result};
use crate::lora::Lora;
use crate::loss::Normalizer;
use crate::model::{Architecture, ModelConfig, Params};
use crate::train::batch::Sample;
use crate::train::config::TrainConfig;
use crate::train::gradients::{loss_at_targets, micro_batch_layout, normalizer_of};
use crate::train::metrics::Summary;

/// Whether the engine trains this model: a Llama without q/k/v biases, in f32 (with or
/// without LoRA adapters), outside a test's reference switch. Anything else goes through
/// candle's autograd.
pub(crate) fn applies(config: &ModelConfig, params: &Params) -> bool {
    config.architecture == Architecture::Llama
        && !config.attention_bias
        && params.vars().values().all(|v| v.dtype() == DType::F32)
        && !crate::model::layers::reference_path()
}

/// The model's weights in the engine's order: each block's `BLOCK_WEIGHTS`, then the token
/// embedding, the final norm and, when untied, lm_head.
fn weight_names(config: &ModelConfig) -> Vec<String> {
    let mut names: Vec<String> = (0..config.num_layers).flat_map(|l| BLOCK_WEIGHTS.iter().map(move |w| format!("model.layers.{l}.{w}"))).collect();
    names.push("model.embed_tokens.weight".into());
    names.push("model.norm.weight".into());
    if !config.tie_word_embeddings {
        names.push("lm_head.weight".into());
    }
    names
}

/// Gradients of what trains, summed over the batch: every weight of the model, or with
/// `lora` its adapters only (the base weights are frozen and get none).
pub(crate) fn batch_gradients(params: &Params, lora: Option<&Lora>, config: &ModelConfig, samples: &[Sample], train: &TrainConfig) -> Result<(GradStore, Summary)> {
    let samples: Vec<&Sample> = samples.iter().filter(|s| !s.targets.is_empty()).collect();
    let normalizer = normalizer_of(&samples, train.loss.max_completion_length)?;
    let names = weight_names(config);
    let vars: Vec<&Var> = names
        .iter()
        .map(|n| params.vars().get(n).ok_or_else(|| CoreError::new(ErrorCode::InvalidModel, format!("the layer-wise engine needs the weight {n}"))))
        .collect::<Result<_>>()?;
    // Each weight's adapter (A and B) by the weight's index.
    let mut adapters: Vec<Option<[Var; 2]>> = vec![None; names.len()];
    if let Some(lora) = lora {
        for (module, a, b) in lora.factors() {
            let at = names.iter().position(|n| n.strip_suffix(".weight") == Some(module)).ok_or_else(|| CoreError::new(ErrorCode::InvalidModel, format!("no weight for the adapter of {module}")))?;
            adapters[at] = Some([a.clone(), b.clone()]);
        }
    }
    let scale = lora.map_or(1.0, |l| l.scale() as f32);

    let guards: Vec<_> = vars.iter().map(|v| v.as_tensor().storage_and_layout()).collect();
    let adapter_guards: Vec<Option<[_; 2]>> = adapters.iter().map(|ad| ad.as_ref().map(|[a, b]| [a.as_tensor().storage_and_layout(), b.as_tensor().storage_and_layout()])).collect();
    let mut weights = Vec::with_capacity(names.len());
    for ((storage, layout), adapter) in guards.iter().zip(&adapter_guards) {
        let lora = match adapter {
            Some([(a, al), (b, bl)]) => {
                let a = f32_slice(a, al)?;
                Some(Adapter { a, b: f32_slice(b, bl)?, rank: al.shape().dims()[0], scale })
            }
            None => None,
        };
        weights.push(Weight { w: f32_slice(storage, layout)?, lora });
    }
    // Buffers for what trains, zeroed once and accumulated over the micro-batches.
    let full = lora.is_none();
    let mut grads: Vec<Option<Vec<f32>>> = weights.iter().map(|w| full.then(|| vec![0f32; w.w.len()])).collect();
    let mut adapter_grads: Vec<Option<[Vec<f32>; 2]>> = weights.iter().map(|w| w.lora.as_ref().map(|l| [vec![0f32; l.a.len()], vec![0f32; l.b.len()]])).collect();
    let mut summary = Summary::new();
    for micro in samples.chunks(train.micro_batch_size) {
        let mut views: Vec<Grads> = grads
            .iter_mut()
            .zip(adapter_grads.iter_mut())
            .map(|(g, a)| Grads { w: g.as_deref_mut(), lora: a.as_mut().map(|[a, b]| [a.as_mut_slice(), b.as_mut_slice()]) })
            .collect();
        if !micro_batch(config, &weights, &mut views, micro, normalizer, train, &mut summary)? {
            summary.mark_non_finite();
            break;
        }
    }
    drop(weights);
    drop((guards, adapter_guards));
    let mut store = GradStore::default();
    let mut insert = |var: &Var, g: Vec<f32>| -> Result<()> {
        let shape = var.as_tensor().shape().clone();
        store.insert(var.as_tensor(), Tensor::from_vec(g, shape, &Device::Cpu)?);
        Ok(())
    };
    for ((var, g), (adapter, ag)) in vars.into_iter().zip(grads).zip(adapters.iter().zip(adapter_grads)) {
        if let Some(g) = g {
            insert(var, g)?;
        }
        if let (Some([a, b]), Some([ga, gb])) = (adapter, ag) {
            insert(a, ga)?;
            insert(b, gb)?;
        }
    }
    Ok((store, summary))
}

fn f32_slice<'a>(storage: &'a Storage, layout: &candle_core::Layout) -> Result<&'a [f32]> {
    match (storage, layout.contiguous_offsets()) {
        (Storage::Cpu(CpuStorage::F32(data)), Some((start, end))) => Ok(&data[start..end]),
        _ => Err(CoreError::new(ErrorCode::Compute, "the layer-wise engine reads contiguous f32 weights on the CPU")),
    }
}

/// Adds one micro-batch's gradients to `grads`; false (nothing added) when its log-probs are not finite.
fn micro_batch(config: &ModelConfig, weights: &[Weight], grads: &mut [Grads], samples: &[&Sample], normalizer: Normalizer, train: &TrainConfig, summary: &mut Summary) -> Result<bool> {
    let layers = config.num_layers;
    let (ids, width, targets) = micro_batch_layout(samples);
    let shape = Shape::new(config, samples.len(), width);
    let positions = Positions::new(config, shape);
    let hidden = config.hidden_size;
    let (embed_at, norm_at) = (layers * 9, layers * 9 + 1);
    let head_at = if config.tie_word_embeddings { embed_at } else { layers * 9 + 2 };
    let (blocks, rest) = weights.split_at(embed_at);
    let block = |l: usize| Block::from_array(std::array::from_fn(|j| blocks[l * 9 + j]));
    let (embed_w, norm_w, head_w) = (rest[0].w, rest[1].w, weights[head_at].w);

    // Forward: each block's saved activations, or only its input when recomputing.
    let started = Instant::now();
    let mut x = embed(embed_w, &ids, hidden);
    let mut saved: Vec<Saved> = Vec::new();
    let mut inputs: Vec<Vec<f32>> = Vec::new();
    for l in 0..layers {
        let (out, s) = block_forward(&block(l), shape, &positions, x);
        if train.activation_checkpointing {
            inputs.push(s.into_input());
        } else {
            saved.push(s);
        }
        x = out;
    }
    let mut final_hidden = vec![0f32; x.len()];
    let mut inv_rms = vec![0f32; ids.len()];
    rms_norm(&x, norm_w, config.norm_eps, &mut final_hidden, &mut inv_rms);

    // The loss head at the loss tokens.
    let head_started = Instant::now();
    let picked: Vec<f32> = targets.rows.iter().flat_map(|&r| final_hidden[r as usize * hidden..(r as usize + 1) * hidden].iter().copied()).collect();
    drop(final_hidden);
    let picked = Tensor::from_vec(picked, (targets.rows.len(), hidden), &Device::Cpu)?;
    let head = Tensor::from_slice(head_w, (head_w.len() / hidden, hidden), &Device::Cpu)?;
    let head_trains = grads[head_at].w.is_some();
    let Some((d_picked, d_head)) = loss_at_targets(&picked, &head, head_trains, &targets.tokens, samples, normalizer, train, summary)? else { return Ok(false) };
    drop(head);
    if let (Some(d_head), Some(g)) = (d_head, grads[head_at].w.as_deref_mut()) {
        add_into(g, &d_head.flatten_all()?.to_vec1::<f32>()?);
    }
    let mut d_hidden = vec![0f32; x.len()];
    for (&r, d) in targets.rows.iter().zip(d_picked.to_vec2::<f32>()?) {
        let row = &mut d_hidden[r as usize * hidden..(r as usize + 1) * hidden];
        row.iter_mut().zip(d).for_each(|(t, d)| *t += d);
    }

    // Backward, last block first.
    let backward_started = Instant::now();
    let mut dx = final_norm_backward(&d_hidden, &x, norm_w, &inv_rms, grads[norm_at].w.as_deref_mut());
    drop((x, d_hidden));
    let (block_grads, rest_grads) = grads.split_at_mut(embed_at);
    for l in (0..layers).rev() {
        let s = match inputs.pop() {
            Some(input) => block_forward(&block(l), shape, &positions, input).1,
            None => saved.pop().expect("one saved block per layer"),
        };
        let mut g = block_grads[l * 9..l * 9 + 9].iter_mut();
        let mut views = Block::from_array(std::array::from_fn(|_| {
            let g = g.next().unwrap();
            Grads { w: g.w.as_deref_mut(), lora: g.lora.as_mut().map(|[a, b]| [&mut **a, &mut **b]) }
        }));
        dx = block_backward(&block(l), &mut views, shape, &positions, s, &dx);
    }
    if let Some(g) = rest_grads[0].w.as_deref_mut() {
        embed_backward(g, &ids, &dx, hidden);
    }
    let seconds = |from: Instant, to: Instant| (to - from).as_secs_f64();
    summary.add_phases(seconds(started, head_started), seconds(head_started, backward_started), backward_started.elapsed().as_secs_f64());
    Ok(true)
}

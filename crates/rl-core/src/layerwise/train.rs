//! A batch's gradients through the layer-wise Llama engine (llama.rs), in place of candle's
//! autograd: the same micro-batches, loss head and normalizers as `train::gradients`, the
//! gradients accumulated in one flat buffer per weight across micro-batches, and handed to
//! the optimizer as the same `GradStore`.

use candle_core::backprop::GradStore;
use candle_core::{CpuStorage, DType, Device, Storage, Tensor, Var};

use super::llama::{block_backward, block_forward, embed, embed_backward, final_norm_backward, Block, Positions, Saved, Shape, BLOCK_WEIGHTS};
use super::ops::{add_into, rms_norm};
use crate::error::{CoreError, ErrorCode, Result};
use crate::loss::Normalizer;
use crate::model::{Architecture, ModelConfig, Params};
use crate::train::batch::Sample;
use crate::train::config::TrainConfig;
use crate::train::gradients::{loss_at_targets, micro_batch_layout, normalizer_of};
use crate::train::metrics::Summary;

/// Whether the engine trains this model: a Llama without q/k/v biases, in f32, every weight
/// trainable (no LoRA adapters), and not inside a test's reference switch. Anything else
/// goes through candle's autograd.
pub(crate) fn applies(config: &ModelConfig, params: &Params, has_lora: bool) -> bool {
    config.architecture == Architecture::Llama
        && !config.attention_bias
        && !has_lora
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

/// Gradients of every weight of the model, summed over the batch.
pub(crate) fn batch_gradients(params: &Params, config: &ModelConfig, samples: &[Sample], train: &TrainConfig) -> Result<(GradStore, Summary)> {
    let samples: Vec<&Sample> = samples.iter().filter(|s| !s.targets.is_empty()).collect();
    let normalizer = normalizer_of(&samples, train.loss.max_completion_length)?;
    let names = weight_names(config);
    let vars: Vec<&Var> = names
        .iter()
        .map(|n| params.vars().get(n).ok_or_else(|| CoreError::new(ErrorCode::InvalidModel, format!("the layer-wise engine needs the weight {n}"))))
        .collect::<Result<_>>()?;
    let guards: Vec<_> = vars.iter().map(|v| v.as_tensor().storage_and_layout()).collect();
    let weights: Vec<&[f32]> = guards.iter().map(|(storage, layout)| f32_slice(storage, layout)).collect::<Result<_>>()?;
    let mut grads: Vec<Vec<f32>> = weights.iter().map(|w| vec![0f32; w.len()]).collect();
    let mut summary = Summary::new();
    for micro in samples.chunks(train.micro_batch_size) {
        if !micro_batch(config, &weights, &mut grads, micro, normalizer, train, &mut summary)? {
            summary.mark_non_finite();
            break;
        }
    }
    drop(weights);
    drop(guards);
    let mut store = GradStore::default();
    for (var, g) in vars.into_iter().zip(grads) {
        let shape = var.as_tensor().shape().clone();
        store.insert(var.as_tensor(), Tensor::from_vec(g, shape, &Device::Cpu)?);
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
fn micro_batch(config: &ModelConfig, weights: &[&[f32]], grads: &mut [Vec<f32>], samples: &[&Sample], normalizer: Normalizer, train: &TrainConfig, summary: &mut Summary) -> Result<bool> {
    let layers = config.num_layers;
    let (ids, width, targets) = micro_batch_layout(samples);
    let shape = Shape::new(config, samples.len(), width);
    let positions = Positions::new(config, shape);
    let hidden = config.hidden_size;
    let (embed_w, norm_w) = (weights[layers * 9], weights[layers * 9 + 1]);
    let head_w = if config.tie_word_embeddings { embed_w } else { weights[layers * 9 + 2] };
    let block_weights = |l: usize| Block::from_array(std::array::from_fn(|j| weights[l * 9 + j]));

    // Forward: each block's saved activations, or only its input when recomputing.
    let mut x = embed(embed_w, &ids, hidden);
    let mut saved: Vec<Saved> = Vec::new();
    let mut inputs: Vec<Vec<f32>> = Vec::new();
    for l in 0..layers {
        let (out, s) = block_forward(&block_weights(l), shape, &positions, x);
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
    let picked: Vec<f32> = targets.rows.iter().flat_map(|&r| final_hidden[r as usize * hidden..(r as usize + 1) * hidden].iter().copied()).collect();
    drop(final_hidden);
    let picked = Tensor::from_vec(picked, (targets.rows.len(), hidden), &Device::Cpu)?;
    let head = Tensor::from_slice(head_w, (head_w.len() / hidden, hidden), &Device::Cpu)?;
    let Some((d_picked, d_head)) = loss_at_targets(&picked, &head, true, &targets.tokens, samples, normalizer, train, summary)? else { return Ok(false) };
    drop(head);
    let head_grad = if config.tie_word_embeddings { layers * 9 } else { layers * 9 + 2 };
    if let Some(d_head) = d_head {
        add_into(&mut grads[head_grad], &d_head.flatten_all()?.to_vec1::<f32>()?);
    }
    let mut d_hidden = vec![0f32; x.len()];
    for (&r, d) in targets.rows.iter().zip(d_picked.to_vec2::<f32>()?) {
        let row = &mut d_hidden[r as usize * hidden..(r as usize + 1) * hidden];
        row.iter_mut().zip(d).for_each(|(t, d)| *t += d);
    }

    // Backward, last block first.
    let mut dx = final_norm_backward(&d_hidden, &x, norm_w, &inv_rms, &mut grads[layers * 9 + 1]);
    drop((x, d_hidden));
    for l in (0..layers).rev() {
        let s = match inputs.pop() {
            Some(input) => block_forward(&block_weights(l), shape, &positions, input).1,
            None => saved.pop().expect("one saved block per layer"),
        };
        let mut g = grads[l * 9..l * 9 + 9].iter_mut();
        let mut block_grads = Block::from_array(std::array::from_fn(|_| g.next().unwrap().as_mut_slice()));
        dx = block_backward(&block_weights(l), &mut block_grads, shape, &positions, s, &dx);
    }
    embed_backward(&mut grads[layers * 9], &ids, &dx, hidden);
    Ok(true)
}

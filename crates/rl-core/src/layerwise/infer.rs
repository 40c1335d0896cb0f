//! Forward passes that build no graph (generation's prefill and decode steps, scoring) on
//! the layer-wise engine's kernels, reading and extending a KV cache of flat buffers: the
//! same products, norms and rotations as training, so rollout and training log-probs come
//! from the same arithmetic, without candle's per-op cost (which dominates a decode step
//! of a small model).

use crate::error::Result;
use crate::generate::kv_cache::{KvCache, KvLayer};
use crate::kernels::{decode_attention, flash_attention};
use crate::model::{Architecture, ModelConfig};

use super::copies::InOutCopies;
use super::linear::Weight;
use super::matmul::{self, Layout};
use super::ends::Ends;
use super::ops::{from_heads, to_heads};
use super::shape::{Positions, Shape};
use super::weights::{per_layer, EngineTensors, Indices, Locked};
use super::{gpt2, llama};

/// The final hidden states [rows, hidden] of `ids` (`positions.of_row.len()` rows: the
/// batch's new columns, row-major), whose keys and values are appended to `cache`.
/// `copies` are the [in, out] copies of the matrices, for passes that read them.
pub(crate) fn forward(config: &ModelConfig, tensors: &EngineTensors, copies: Option<&InOutCopies>, ids: &[u32], positions: Positions, cache: &mut KvCache) -> Result<Vec<f32>> {
    let rows = ids.len();
    let time = rows / cache.batch().max(1);
    cache.check_room(time)?;
    let locks = tensors.lock();
    // Unmerged LoRA factors are A and s * B: the scale is already in B.
    let mut w = locks.views(config, 1.0)?;
    let at = Indices::new(config);
    if let Some(copies) = copies {
        // The blocks' matrices only: the embedding table (which may be the head) is read by row.
        for (w, copy) in w[..at.embed].iter_mut().zip(copies) {
            if let Some(copy) = copy {
                (w.w, w.layout) = (copy, Layout::InOut);
            }
        }
    }
    let n = per_layer(config);
    let shape = Shape::new(config, cache.batch(), time);

    let ends = Ends::new(config, &w);
    let mut x = ends.embed(ids, &positions.of_row);
    for l in 0..config.num_layers {
        let block = &w[l * n..(l + 1) * n];
        let layer = cache.layer(l);
        match config.architecture {
            Architecture::Llama => llama::block_inference(&llama::Block::from_array(std::array::from_fn(|j| block[j])), shape, &positions, &mut x, layer),
            Architecture::Gpt2 => gpt2::block_inference(&gpt2::Block::from_array(std::array::from_fn(|j| block[j])), shape, &positions, &mut x, layer),
        }
    }
    cache.advance(time);
    Ok(ends.final_norm(&x).0)
}

/// Logits [rows, vocab] of final hidden states [rows, hidden] through the output projection
/// (its [in, out] copy when given).
pub(crate) fn logits(config: &ModelConfig, tensors: &EngineTensors, copies: Option<&InOutCopies>, hidden: &[f32]) -> Result<Vec<f32>> {
    let at = Indices::new(config);
    let lock = Locked::new([Some(tensors.weight(at.head))]);
    let (w, layout) = match copies.and_then(|c| c[at.head].as_deref()) {
        Some(copy) => (copy, Layout::InOut),
        None => (lock.get(0)?.expect("the head is present"), Layout::OutIn),
    };
    let (rows, vocab) = (hidden.len() / config.hidden_size, config.vocab_size);
    let mut out = vec![0f32; rows * vocab];
    matmul::forward(&mut out, hidden, w, layout, rows, config.hidden_size, vocab, false);
    Ok(out)
}

/// Token-major rows holding some heads: (rows, row width, column of the first head).
pub(crate) type Heads<'a> = (&'a [f32], usize, usize);

/// Attention of the pass's new tokens: their keys and values are appended to the cache,
/// and each query attends to the cached keys its span allows. Returns the output token-major
/// [rows, heads * head_dim].
pub(crate) fn attend(s: Shape, pos: &Positions, mut cache: KvLayer, q: Heads, k: Heads, v: Heads) -> Vec<f32> {
    cache.append(k, v, s.time);
    let (rows, d) = (s.rows(), s.head_dim);
    let mut q_heads = vec![0f32; rows * s.q_width()];
    to_heads(q.0, q.1, q.2, &mut q_heads, s.time, s.heads, d);
    let dims = flash_attention::Dims { batch: s.batch, heads: s.heads, kv_heads: s.kv_heads, queries: s.time, keys: cache.offset + s.time, head_dim: d };
    let (keys, values) = cache.views();
    let scale = 1.0 / (d as f64).sqrt();
    let mut out = vec![0f32; q_heads.len()];
    if s.time == 1 {
        decode_attention::forward(dims, &q_heads, keys, values, &pos.spans, scale as f32, &mut out);
    } else {
        let mut lse = vec![0f32; s.batch * s.heads * s.time];
        flash_attention::forward(dims, &q_heads, keys, values, &pos.spans, scale, &mut out, &mut lse);
    }
    let mut tokens = q_heads;
    from_heads(&out, &mut tokens, s.q_width(), 0, s.time, s.heads, d);
    tokens
}

/// y = x W^T (+ b, + adapter) into a new buffer.
pub(crate) fn project(w: &Weight, x: &[f32], rows: usize, k: usize, n: usize) -> Vec<f32> {
    let mut y = vec![0f32; rows * n];
    w.forward(&mut y, x, rows, k, n, false);
    y
}

//! Forward passes that build no graph (generation's prefill and decode steps, scoring) on
//! the layer-wise engine's kernels, reading and extending a KV cache of flat buffers: the
//! same products, norms and rotations as training, so rollout and training log-probs come
//! from the same arithmetic, without candle's per-op cost (which dominates a decode step
//! of a small model).

use crate::error::Result;
use crate::generate::kv_cache::{KvCache, KvLayer};
use crate::kernels::{decode_attention, flash_attention};
use crate::model::layers::LoraFactors;
use crate::model::{Architecture, ModelConfig, Weights};

use rayon::prelude::*;

use super::linear::Weight;
use super::matmul::{self, Layout, SOME_ROWS};
use super::llama::embed;
use super::ops::{from_heads, rms_norm, to_heads};
use super::shape::{Positions, Shape};
use super::weights::{bias_name, lookup, per_layer, weight_names, Indices, Locked, WeightLocks};
use super::{gpt2, llama};

/// The model's matrices stored [out, in] (every Llama matrix, GPT-2's output projection),
/// again in the [in, out] layout, by `weight_names` index (None for the rest): gemm packs a
/// weight in that layout well for any number of rows, so products of 2 to 32 rows (decode
/// steps of a batch) read these copies. Made once per weight update (`Decoder` keeps them).
pub(crate) type InOutCopies = Vec<Option<Vec<f32>>>;

pub(crate) fn in_out_copies(config: &ModelConfig, weights: &Weights) -> Result<InOutCopies> {
    let names = weight_names(config);
    let at = Indices::new(config);
    let tensors = lookup(&names, |n| weights.get(n))?;
    let locks = Locked::new(tensors.iter().map(|t| Some(*t)));
    let llama = config.architecture == Architecture::Llama;
    (0..names.len())
        .map(|i| {
            if !(i == at.head || (llama && i < at.embed && tensors[i].rank() == 2)) {
                return Ok(None);
            }
            let w = locks.get(i)?.expect("every weight is present");
            Ok(Some(transposed(w, locks.rows(i))))
        })
        .collect()
}

/// `w` [rows, w.len() / rows] transposed, in tiles that stay in cache.
fn transposed(w: &[f32], rows: usize) -> Vec<f32> {
    const TILE: usize = 64;
    let cols = w.len() / rows.max(1);
    let mut t = vec![0f32; w.len()];
    t.par_chunks_mut(TILE * rows.max(1)).enumerate().for_each(|(tile, out)| {
        let first = tile * TILE;
        for r0 in (0..rows).step_by(TILE) {
            for (c, out_row) in out.chunks_mut(rows).enumerate() {
                for r in r0..(r0 + TILE).min(rows) {
                    out_row[r] = w[r * cols + first + c];
                }
            }
        }
    });
    t
}

/// Whether a pass of `rows` rows reads the [in, out] copies: batched decode steps (2 to
/// SOME_ROWS rows) of a model whose weights fit in the last-level cache, where gemm on the
/// copies runs 1.3x-1.8x the skinny kernel (measured: a 5M-parameter model's 32-row decode
/// step 5.3 ms against 6.9). A single row streams the weight as stored (the skinny kernel),
/// and so does every step of a model whose weights stream from memory: there the copies
/// measured slower (a 135M model's 32-row step 112-124 ms against 99-109) and would double
/// the weights' memory.
pub(crate) fn reads_copies(rows: usize, weight_bytes: usize) -> bool {
    rows > 1 && rows <= SOME_ROWS && weight_bytes <= last_level_cache_bytes()
}

/// The size of the CPU's last-level cache (Linux reports it; 32 MiB elsewhere).
fn last_level_cache_bytes() -> usize {
    static BYTES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *BYTES.get_or_init(|| {
        let read = |index: u32| std::fs::read_to_string(format!("/sys/devices/system/cpu/cpu0/cache/index{index}/size")).ok();
        let parse = |text: String| {
            let text = text.trim();
            let (digits, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
            let scale = match unit { "K" => 1 << 10, "M" => 1 << 20, "G" => 1 << 30, _ => 1 };
            digits.parse::<usize>().ok().map(|d| d * scale)
        };
        (1..5).rev().find_map(|i| read(i).and_then(parse)).unwrap_or(32 << 20)
    })
}

/// The final hidden states [rows, hidden] of `ids` (`positions.of_row.len()` rows: the
/// batch's new columns, row-major), whose keys and values are appended to `cache`.
/// `copies` are the [in, out] copies of the matrices, for passes that read them.
pub(crate) fn forward(config: &ModelConfig, weights: &Weights, copies: Option<&InOutCopies>, ids: &[u32], positions: Positions, cache: &mut KvCache) -> Result<Vec<f32>> {
    let rows = ids.len();
    let time = rows / cache.batch().max(1);
    cache.check_room(time)?;
    let names = weight_names(config);
    let tensors = lookup(&names, |n| weights.get(n))?;
    // Adapters ride beside their weights when a decoder is given unmerged LoRA factors.
    let adapter = |j: usize| Locked::new(names.iter().map(|n| n.strip_suffix(".weight").and_then(|m| weights.get(&LoraFactors::names(m)[j]))));
    let locks = WeightLocks {
        weights: Locked::new(tensors.iter().map(|t| Some(*t))),
        biases: Locked::new(names.iter().map(|n| bias_name(n).and_then(|b| weights.get(&b)))),
        adapters: [adapter(0), adapter(1)],
    };
    // The factors are A and s * B: the scale is already in B.
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
    let (hidden, n) = (config.hidden_size, per_layer(config));
    let shape = Shape::new(config, cache.batch(), time);

    let mut x = embed(w[at.embed].w, ids, hidden);
    if config.architecture == Architecture::Gpt2 {
        let table = w[at.extra].w;
        for (row, &p) in x.chunks_mut(hidden).zip(&positions.of_row) {
            row.iter_mut().zip(&table[p as usize * hidden..(p as usize + 1) * hidden]).for_each(|(x, e)| *x += e);
        }
    }
    for l in 0..config.num_layers {
        let block = &w[l * n..(l + 1) * n];
        let layer = cache.layer(l);
        match config.architecture {
            Architecture::Llama => llama::block_inference(&llama::Block::from_array(std::array::from_fn(|j| block[j])), shape, &positions, &mut x, layer),
            Architecture::Gpt2 => gpt2::block_inference(&gpt2::Block::from_array(std::array::from_fn(|j| block[j])), shape, &positions, &mut x, layer),
        }
    }
    cache.advance(time);
    let mut out = vec![0f32; x.len()];
    match config.architecture {
        Architecture::Llama => rms_norm(&x, w[at.norm].w, config.norm_eps, &mut out, &mut vec![0f32; rows]),
        Architecture::Gpt2 => out = gpt2::final_norm(&x, &w[at.norm], config.norm_eps, rows).0,
    }
    Ok(out)
}

/// Logits [rows, vocab] of final hidden states [rows, hidden] through the output projection
/// (its [in, out] copy when given).
pub(crate) fn logits(config: &ModelConfig, weights: &Weights, copies: Option<&InOutCopies>, hidden: &[f32]) -> Result<Vec<f32>> {
    let at = Indices::new(config);
    let name = &weight_names(config)[at.head];
    let head = lookup(std::slice::from_ref(name), |n| weights.get(n))?[0];
    let lock = Locked::new([Some(head)]);
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

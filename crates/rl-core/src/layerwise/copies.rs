//! The model's matrices again in the layout batched decode steps want. gemm packs a weight
//! stored [in, out] well for any number of rows, and one stored [out, in] (HuggingFace's
//! Linear, every Llama matrix) slowly at a few rows; decode steps of a small model read
//! [in, out] copies, made once per weight update and kept by `model::Decoder`.

use rayon::prelude::*;

use super::matmul::SOME_ROWS;
use super::weights::{weight_names, EngineTensors, Indices};
use crate::error::Result;
use crate::model::{Architecture, ModelConfig};

/// The matrices stored [out, in] (every Llama block matrix, the output projection) in the
/// [in, out] layout, by `weight_names` index (None for the rest).
pub(crate) type InOutCopies = Vec<Option<Vec<f32>>>;

pub(crate) fn in_out_copies(config: &ModelConfig, tensors: &EngineTensors) -> Result<InOutCopies> {
    let at = Indices::new(config);
    let locks = tensors.lock().weights;
    let llama = config.architecture == Architecture::Llama;
    (0..weight_names(config).len())
        .map(|i| {
            if !(i == at.head || (llama && i < at.embed && tensors.weight(i).rank() == 2)) {
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

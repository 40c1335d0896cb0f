//! The critic's values of given sequences, without a graph: V at position t (t >= start)
//! is the value of the state before token t, read from the hidden state at t - 1 (where the
//! policy's log-prob of token t comes from), so `values` lines up with `score`.
//!
//! As in scoring, sequences of similar length are batched (right-padded) and run a chunk of
//! columns at a time with a KV cache, so no [length, length] attention of a long sequence
//! exists at once; the head is a single dot product, so no logits chunking is needed.

use candle_core::{DType, Device, Tensor};

use super::Critic;
use crate::error::{CoreError, ErrorCode, Result};
use crate::generate::kv_cache::KvCache;
use crate::model::tokens::checked_token_ids;

/// Tokens (rows x padded length) batched together at most (this sizes the KV cache).
const BATCH_TOKENS: usize = 4096;
/// Tokens (rows x columns) one forward pass processes at most.
const FORWARD_TOKENS: usize = 1024;

impl Critic {
    /// For each sequence, the values at positions start..len (empty when it is not longer
    /// than `start`).
    pub fn values(&self, sequences: &[&[i32]], start: usize) -> Result<Vec<Vec<f32>>> {
        if start == 0 {
            return Err(CoreError::new(ErrorCode::InvalidParameter, "start must be at least 1: the first token has no state before it to value"));
        }
        let sequences = checked_token_ids(sequences, self.config.vocab_size, "sequence")?;
        let decoder = self.decoder(false)?;
        let mut out = vec![Vec::new(); sequences.len()];
        let mut order: Vec<usize> = (0..sequences.len()).filter(|&i| sequences[i].len() > start).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(sequences[i].len()));
        for batch in batches(&order, &sequences) {
            let width = sequences[batch[0]].len();
            let rows = batch.len();
            let mut ids = vec![0u32; rows * width];
            for (b, &i) in batch.iter().enumerate() {
                ids[b * width..b * width + sequences[i].len()].copy_from_slice(&sequences[i]);
            }
            let ids = Tensor::from_vec(ids, (rows, width), &Device::Cpu)?;
            let mut cache = KvCache::new(&self.config, rows, width)?;
            let columns = (FORWARD_TOKENS / rows).max(1);
            for first in (0..width).step_by(columns) {
                let len = columns.min(width - first);
                let hidden = decoder.forward(&ids.narrow(1, first, len)?, &vec![0; rows], Some(&mut cache))?.flatten_to(1)?;
                // Token t's value comes from the hidden state at column t - 1.
                let mut picked = Vec::new();
                for (b, &i) in batch.iter().enumerate() {
                    let (from, to) = (start.max(first + 1), sequences[i].len().min(first + len + 1));
                    picked.extend((from..to).map(|t| ((b * len + t - 1 - first) as u32, i)));
                }
                if picked.is_empty() {
                    continue;
                }
                let positions = Tensor::from_vec(picked.iter().map(|p| p.0).collect::<Vec<_>>(), picked.len(), &Device::Cpu)?;
                let values = self.head.forward(&hidden.index_select(&positions, 0)?)?.to_dtype(DType::F32)?.to_vec1::<f32>()?;
                for (&(_, i), v) in picked.iter().zip(values) {
                    out[i].push(v);
                }
            }
        }
        Ok(out)
    }
}

/// Consecutive runs of `order` (longest first) holding at most BATCH_TOKENS padded tokens.
fn batches<'a>(order: &'a [usize], sequences: &'a [Vec<u32>]) -> impl Iterator<Item = &'a [usize]> + 'a {
    let mut rest = order;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let take = (BATCH_TOKENS / sequences[rest[0]].len()).clamp(1, rest.len());
        let (batch, tail) = rest.split_at(take);
        rest = tail;
        Some(batch)
    })
}

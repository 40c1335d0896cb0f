//! The critic's values of given sequences, without a graph: V at position t (t >= start)
//! is the value of the state before token t, read from the hidden state at t - 1 (where the
//! policy's log-prob of token t comes from), so `values` lines up with `score`, and runs
//! the decoder the way scoring does (length-sorted batches, column chunks, a KV cache).

use candle_core::{DType, Device, Tensor};

use super::Critic;
use crate::error::{CoreError, ErrorCode, Result};
use crate::model::tokens::checked_token_ids;
use crate::score::visit_hidden_states;

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
        visit_hidden_states(&decoder, &sequences, start, |hidden, positions| {
            if positions.is_empty() {
                return Ok(());
            }
            let rows = Tensor::from_vec(positions.iter().map(|p| p.row).collect::<Vec<_>>(), positions.len(), &Device::Cpu)?;
            let values = self.head.forward(&hidden.index_select(&rows, 0)?)?.to_dtype(DType::F32)?.to_vec1::<f32>()?;
            for (p, v) in positions.iter().zip(values) {
                out[p.sequence].push(v);
            }
            Ok(())
        })?;
        Ok(out)
    }
}

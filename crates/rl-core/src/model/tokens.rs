//! Token id input checks shared by scoring and generation.

use crate::error::{CoreError, ErrorCode, Result};

/// Converts JavaScript-side token ids (i32) to u32, failing on any id outside
/// `[0, vocab_size)` with the sequence and position that hold it.
pub fn checked_token_ids(sequences: &[&[i32]], vocab_size: usize, what: &str) -> Result<Vec<Vec<u32>>> {
    sequences
        .iter()
        .enumerate()
        .map(|(s, seq)| {
            seq.iter()
                .enumerate()
                .map(|(i, &id)| {
                    if id >= 0 && (id as usize) < vocab_size {
                        Ok(id as u32)
                    } else {
                        Err(CoreError::new(
                            ErrorCode::InvalidToken,
                            format!("{what} {s} has token id {id} at position {i}, outside the model's vocabulary [0, {vocab_size}); encode text with this model's tokenizer"),
                        ))
                    }
                })
                .collect()
        })
        .collect()
}

//! A critic training batch as callers hold it (arrays aligned with whole sequences: index t
//! is token t, and the value at t is that of the state before token t), its validation, and
//! its reduction to the loss tokens of each sequence.

use crate::error::{check_len, CoreError, ErrorCode, Result};
use crate::train::checked_sequences;

pub struct ValueBatch {
    /// Whole token ids, one per trajectory.
    pub sequences: Vec<Vec<i32>>,
    /// 1 where the value is trained (the tokens the policy sampled); never on token 0.
    pub masks: Vec<Vec<u8>>,
    /// The regression targets, aligned with the sequences.
    pub returns: Vec<Vec<f32>>,
    /// The values the rollout was scored with, aligned; required by a clipped value loss.
    pub old_values: Option<Vec<Vec<f32>>>,
}

/// One sequence reduced to its loss tokens.
pub(crate) struct ValueSample {
    pub ids: Vec<u32>,
    /// Positions (>= 1) of the loss tokens.
    pub targets: Vec<usize>,
    pub returns: Vec<f32>,
    pub old_values: Option<Vec<f32>>,
}

impl ValueBatch {
    pub(crate) fn samples(&self, vocab_size: usize) -> Result<Vec<ValueSample>> {
        let n = self.sequences.len();
        let ids = checked_sequences(&self.sequences, &self.masks, vocab_size)?;
        check_len("returns", self.returns.len(), "sequences", n)?;
        if let Some(old) = &self.old_values {
            check_len("oldValues", old.len(), "sequences", n)?;
        }
        let mut samples = Vec::with_capacity(n);
        for (i, ids) in ids.into_iter().enumerate() {
            let mask = &self.masks[i];
            check_len(&format!("masks[{i}]"), mask.len(), &format!("sequences[{i}]"), ids.len())?;
            if mask.first().is_some_and(|&m| m != 0) {
                return Err(CoreError::new(
                    ErrorCode::InvalidArgument,
                    format!("masks[{i}][0] is 1 but the first token of a sequence has no state before it to value; set it to 0"),
                ));
            }
            let targets: Vec<usize> = (1..ids.len()).filter(|&t| mask[t] != 0).collect();
            let per_token = |name: &str, a: &[f32]| -> Result<Vec<f32>> {
                check_len(&format!("{name}[{i}]"), a.len(), &format!("sequences[{i}]"), ids.len())?;
                targets.iter().map(|&t| finite(name, i, t, a[t])).collect()
            };
            let returns = per_token("returns", &self.returns[i])?;
            let old_values = self.old_values.as_ref().map(|old| per_token("oldValues", &old[i])).transpose()?;
            samples.push(ValueSample { ids, targets, returns, old_values });
        }
        if samples.iter().all(|s| s.targets.is_empty()) {
            return Err(CoreError::new(ErrorCode::InvalidArgument, "the batch has no loss tokens: every mask is 0; mark the values to train with 1"));
        }
        Ok(samples)
    }
}

fn finite(name: &str, sequence: usize, token: usize, value: f32) -> Result<f32> {
    if value.is_finite() {
        return Ok(value);
    }
    Err(CoreError::new(
        ErrorCode::NonFinite,
        format!("{name}[{sequence}][{token}] (a loss token) is {value}; every value the loss reads must be finite (drop or zero the sample that produced it)"),
    ))
}

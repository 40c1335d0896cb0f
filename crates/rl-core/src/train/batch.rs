//! A training batch as callers hold it (arrays aligned with whole sequences: index t is
//! token t), its validation, and its reduction to what the loss reads: the loss tokens of
//! each sequence with their rollout log-probs, advantages and reference log-probs.

use crate::error::{check_len, CoreError, ErrorCode, Result};
use crate::model::tokens::checked_token_ids;

pub struct TrainBatch {
    /// Whole token ids (prompt + completion), one per trajectory.
    pub sequences: Vec<Vec<i32>>,
    /// 1 on loss tokens; never on token 0, which has no context to be predicted from.
    pub masks: Vec<Vec<u8>>,
    /// Rollout log-probs aligned with the sequences; every loss but SFT needs them.
    pub old_logprobs: Option<Vec<Vec<f32>>>,
    pub advantages: Option<BatchAdvantages>,
    /// Reference-policy log-probs aligned with the sequences, when beta > 0.
    pub ref_logprobs: Option<Vec<Vec<f32>>>,
}

pub enum BatchAdvantages {
    PerSequence(Vec<f32>),
    /// Aligned with the sequences, like the masks.
    PerToken(Vec<Vec<f32>>),
}

/// One sequence reduced to its loss tokens.
pub(crate) struct Sample {
    pub ids: Vec<u32>,
    /// Positions (>= 1) of the loss tokens.
    pub targets: Vec<usize>,
    /// Per loss token; present when the batch holds the array.
    pub old_logprobs: Option<Vec<f32>>,
    pub advantages: Option<Vec<f32>>,
    pub ref_logprobs: Option<Vec<f32>>,
}

/// The checks every batch of whole sequences shares (the policy's and the critic's): it is
/// not empty, its token ids are in the vocabulary, and it has one mask per sequence. Returns
/// the ids as the model reads them.
pub(crate) fn checked_sequences(sequences: &[Vec<i32>], masks: &[Vec<u8>], vocab_size: usize) -> Result<Vec<Vec<u32>>> {
    if sequences.is_empty() {
        return Err(CoreError::new(ErrorCode::InvalidArgument, "the batch is empty; pass at least one sequence"));
    }
    let refs: Vec<&[i32]> = sequences.iter().map(Vec::as_slice).collect();
    let ids = checked_token_ids(&refs, vocab_size, "sequence")?;
    check_len("masks", masks.len(), "sequences", sequences.len())?;
    Ok(ids)
}

impl TrainBatch {
    /// Checks every array against the sequences and the vocabulary; values the loss reads
    /// (at loss tokens) must be finite.
    pub(crate) fn samples(&self, vocab_size: usize) -> Result<Vec<Sample>> {
        let n = self.sequences.len();
        let ids = checked_sequences(&self.sequences, &self.masks, vocab_size)?;
        for (name, arrays) in [("oldLogprobs", &self.old_logprobs), ("refLogprobs", &self.ref_logprobs)] {
            if let Some(a) = arrays {
                check_len(name, a.len(), "sequences", n)?;
            }
        }
        match &self.advantages {
            Some(BatchAdvantages::PerSequence(a)) => check_len("advantages", a.len(), "sequences", n)?,
            Some(BatchAdvantages::PerToken(a)) => check_len("advantages", a.len(), "sequences", n)?,
            None => {}
        }
        let mut samples = Vec::with_capacity(n);
        for (i, ids) in ids.into_iter().enumerate() {
            samples.push(self.sample(i, ids)?);
        }
        if samples.iter().all(|s| s.targets.is_empty()) {
            return Err(CoreError::new(ErrorCode::InvalidArgument, "the batch has no loss tokens: every mask is 0; mark the tokens to train on with 1"));
        }
        Ok(samples)
    }

    fn sample(&self, i: usize, ids: Vec<u32>) -> Result<Sample> {
        let mask = &self.masks[i];
        check_len(&format!("masks[{i}]"), mask.len(), &format!("sequences[{i}]"), ids.len())?;
        if mask.first().is_some_and(|&m| m != 0) {
            return Err(CoreError::new(
                ErrorCode::InvalidArgument,
                format!("masks[{i}][0] is 1 but the first token of a sequence has no context to be predicted from; set it to 0"),
            ));
        }
        let targets: Vec<usize> = (1..ids.len()).filter(|&t| mask[t] != 0).collect();
        let per_token = |name: &str, arrays: Option<&Vec<Vec<f32>>>| -> Result<Option<Vec<f32>>> {
            let Some(a) = arrays else { return Ok(None) };
            check_len(&format!("{name}[{i}]"), a[i].len(), &format!("sequences[{i}]"), ids.len())?;
            targets.iter().map(|&t| finite(name, i, Some(t), a[i][t])).collect::<Result<Vec<_>>>().map(Some)
        };
        let old_logprobs = per_token("oldLogprobs", self.old_logprobs.as_ref())?;
        let ref_logprobs = per_token("refLogprobs", self.ref_logprobs.as_ref())?;
        let advantages = match &self.advantages {
            None => None,
            Some(BatchAdvantages::PerToken(a)) => per_token("advantages", Some(a))?,
            // Broadcast to the loss tokens; a sequence without any is never read.
            Some(BatchAdvantages::PerSequence(a)) => Some(targets.iter().map(|_| finite("advantages", i, None, a[i])).collect::<Result<Vec<_>>>()?),
        };
        Ok(Sample { ids, targets, old_logprobs, advantages, ref_logprobs })
    }
}

fn finite(name: &str, sequence: usize, token: Option<usize>, value: f32) -> Result<f32> {
    if value.is_finite() {
        return Ok(value);
    }
    let place = match token {
        Some(t) => format!("{name}[{sequence}][{t}] (a loss token)"),
        None => format!("{name}[{sequence}]"),
    };
    Err(CoreError::new(
        ErrorCode::NonFinite,
        format!("{place} is {value}; every value the loss reads must be finite (drop or zero the sample that produced it)"),
    ))
}

//! The denominators of the aggregation modes. With gradient accumulation they must be
//! those of the whole optimizer batch, not of one micro-batch: compute a `Normalizer`
//! once from the full batch (or merge the micro-batches' own) and pass it to every
//! micro-batch call; the micro-batch losses and gradients then sum to the full-batch ones.

use super::config::Aggregation;
use crate::advantages::validate_offsets;
use crate::error::{CoreError, ErrorCode, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Normalizer {
    /// Loss tokens (mask 1) in the batch: the token-mean denominator.
    pub tokens: usize,
    /// Sequences holding at least one loss token: the B of the seq-mean modes. A fully
    /// masked sequence is not counted, so it has no effect at all on the loss.
    pub sequences: usize,
    /// L_max of seq-mean-token-sum-norm.
    pub max_length: usize,
}

impl Normalizer {
    /// The denominators of the batch `mask` split by `offsets` (`None`: one sequence).
    /// `max_completion_length` is L_max; without it, the most loss tokens of any sequence.
    pub fn of_batch(mask: &[u8], offsets: Option<&[i32]>, max_completion_length: Option<usize>) -> Result<Self> {
        let bounds = sequence_bounds(offsets, mask.len())?;
        Ok(Self::of_bounds(mask, &bounds, max_completion_length))
    }

    pub(crate) fn of_bounds(mask: &[u8], bounds: &[usize], max_completion_length: Option<usize>) -> Self {
        let counts = bounds.windows(2).map(|w| count_tokens(&mask[w[0]..w[1]]));
        let mut n = Normalizer { tokens: 0, sequences: 0, max_length: 0 };
        for c in counts {
            n.tokens += c;
            n.sequences += (c > 0) as usize;
            n.max_length = n.max_length.max(c);
        }
        if let Some(l) = max_completion_length {
            n.max_length = l;
        }
        n
    }

    /// The normalizer of two disjoint parts of one batch taken together.
    pub fn merge(self, other: Normalizer) -> Normalizer {
        Normalizer {
            tokens: self.tokens + other.tokens,
            sequences: self.sequences + other.sequences,
            max_length: self.max_length.max(other.max_length),
        }
    }

    /// Checks that this normalizer can hold a (micro-)batch whose own one is `local`.
    pub(crate) fn check_covers(&self, local: &Normalizer) -> Result<()> {
        if self.tokens < local.tokens || self.sequences < local.sequences {
            return Err(CoreError::new(
                ErrorCode::InvalidParameter,
                format!(
                    "the normalizer counts {} tokens in {} sequences but this batch alone has {} tokens in {} sequences; \
                     compute it from the whole optimizer batch",
                    self.tokens, self.sequences, local.tokens, local.sequences
                ),
            ));
        }
        if local.tokens > 0 && self.max_length == 0 {
            return Err(CoreError::new(ErrorCode::InvalidParameter, "the normalizer's maxLength must be positive".to_string()));
        }
        Ok(())
    }

    /// The weight of each loss token of a sequence holding `seq_tokens` (> 0) loss tokens:
    /// the aggregated loss is the sum of weight * per-token loss.
    pub(crate) fn token_weight(&self, aggregation: Aggregation, seq_tokens: usize) -> f64 {
        let b = self.sequences as f64;
        match aggregation {
            Aggregation::TokenMean => 1.0 / self.tokens as f64,
            Aggregation::SeqMeanTokenMean => 1.0 / (b * seq_tokens as f64),
            Aggregation::SeqMeanTokenSum => 1.0 / b,
            Aggregation::SeqMeanTokenSumNorm => 1.0 / (b * self.max_length as f64),
        }
    }
}

/// The validated sequence boundaries of a buffer of `len` tokens.
pub(crate) fn sequence_bounds(offsets: Option<&[i32]>, len: usize) -> Result<Vec<usize>> {
    match offsets {
        Some(o) => {
            validate_offsets(o, len)?;
            Ok(o.iter().map(|&v| v as usize).collect())
        }
        None => Ok(vec![0, len]),
    }
}

pub(crate) fn count_tokens(mask: &[u8]) -> usize {
    mask.iter().filter(|&&m| m != 0).count()
}


//! The arrays of one loss call, and their validation.

use super::config::{LossConfig, LossKind};
use super::normalizer::{count_tokens, sequence_bounds, Normalizer};
use crate::error::{check_len, CoreError, ErrorCode, Result};

/// Token arrays are flat: all sequences back to back, split by `offsets`.
pub struct LossInput<'a> {
    /// log pi_theta of each token under the policy being trained.
    pub logprobs: &'a [f32],
    /// log-probs recorded at rollout time; required by every loss but SFT.
    pub old_logprobs: Option<&'a [f32]>,
    /// log-probs of the frozen reference policy; required when beta > 0.
    pub ref_logprobs: Option<&'a [f32]>,
    /// One advantage per token, or one per sequence (broadcast to its tokens). When the
    /// two lengths coincide the advantages are read per token. Required by every loss but SFT.
    pub advantages: Option<&'a [f32]>,
    /// 1 on loss tokens (those the policy produced), 0 elsewhere.
    pub mask: &'a [u8],
    /// n+1 sequence boundaries; `None` means one sequence.
    pub offsets: Option<&'a [i32]>,
    /// Denominators of the whole optimizer batch; `None` uses this call's own.
    pub normalizer: Option<Normalizer>,
}

/// The advantage of a token, wherever it comes from.
#[derive(Clone, Copy)]
pub(crate) enum Advantages<'a> {
    PerToken(&'a [f32]),
    PerSequence(&'a [f32]),
    /// SFT: the loss does not read advantages.
    Unused,
}

impl Advantages<'_> {
    pub fn at(&self, sequence: usize, token: usize) -> f64 {
        match self {
            Advantages::PerToken(a) => a[token] as f64,
            Advantages::PerSequence(a) => a[sequence] as f64,
            Advantages::Unused => 0.0,
        }
    }
}

/// What validation hands to the computation.
pub(crate) struct Checked<'a> {
    pub bounds: Vec<usize>,
    pub advantages: Advantages<'a>,
    pub normalizer: Normalizer,
}

pub(crate) fn check<'a>(input: &LossInput<'a>, config: &LossConfig) -> Result<Checked<'a>> {
    config.validate()?;
    let len = input.logprobs.len();
    check_len("mask", input.mask.len(), "logprobs", len)?;
    let bounds = sequence_bounds(input.offsets, len)?;
    let sequences = bounds.len() - 1;
    let needs_rollout = config.kind != LossKind::Sft;
    let by_loss = format!("by loss '{}'", config.kind.name());
    let old = required("oldLogprobs", input.old_logprobs, needs_rollout, &by_loss, "the log-probs recorded at rollout time")?;
    let advantages = required("advantages", input.advantages, needs_rollout, &by_loss, "one advantage per token or per sequence")?;
    let by_beta = format!("by beta {}", config.beta);
    let reference = required("refLogprobs", input.ref_logprobs, config.beta > 0.0, &by_beta, "the reference policy's log-probs, or set beta to 0")?;

    for (name, values) in [("logprobs", Some(input.logprobs)), ("oldLogprobs", old), ("refLogprobs", reference)] {
        if let Some(v) = values {
            check_len(name, v.len(), "logprobs", len)?;
            check_finite_tokens(name, v, input.mask)?;
        }
    }
    let advantages = match advantages {
        None => Advantages::Unused,
        Some(a) if a.len() == len => {
            check_finite_tokens("advantages", a, input.mask)?;
            Advantages::PerToken(a)
        }
        Some(a) if a.len() == sequences => {
            for (k, w) in bounds.windows(2).enumerate() {
                if count_tokens(&input.mask[w[0]..w[1]]) > 0 {
                    check_finite("advantages", k, a[k], "of a sequence with loss tokens")?;
                }
            }
            Advantages::PerSequence(a)
        }
        Some(a) => {
            return Err(CoreError::new(
                ErrorCode::LengthMismatch,
                format!(
                    "advantages has length {} but there are {len} tokens in {sequences} sequences; give one advantage per token or one per sequence",
                    a.len()
                ),
            ))
        }
    };

    let local = Normalizer::of_bounds(input.mask, &bounds, config.max_completion_length);
    let normalizer = match input.normalizer {
        Some(n) => {
            n.check_covers(&local)?;
            n
        }
        None => local,
    };
    Ok(Checked { bounds, advantages, normalizer })
}

fn required<'a>(name: &str, value: Option<&'a [f32]>, needed: bool, by: &str, what: &str) -> Result<Option<&'a [f32]>> {
    if needed && value.is_none() {
        return Err(CoreError::new(ErrorCode::InvalidArgument, format!("{name} is required {by}; pass {what}")));
    }
    Ok(value)
}

/// Values at masked-out positions are never read, so only loss tokens must be finite.
fn check_finite_tokens(name: &str, values: &[f32], mask: &[u8]) -> Result<()> {
    for (i, (&v, &m)) in values.iter().zip(mask).enumerate() {
        if m != 0 {
            check_finite(name, i, v, "at a loss token")?;
        }
    }
    Ok(())
}

fn check_finite(name: &str, index: usize, value: f32, place: &str) -> Result<()> {
    if value.is_finite() {
        return Ok(());
    }
    Err(CoreError::new(
        ErrorCode::NonFinite,
        format!("{name}[{index}] is {value} {place}; every value the loss reads must be finite (drop or zero the sample that produced it)"),
    ))
}

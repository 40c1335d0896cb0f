//! What a policy loss computes (ALGORITHMS.md section 3): the loss type, its clip range,
//! how per-token terms are aggregated, and the KL penalty, with the project's defaults.

use crate::error::{check_range, CoreError, ErrorCode, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LossKind {
    /// Per-token clipped surrogate (GRPO, DAPO, RLOO, PPO).
    TokenClip,
    /// Sequence-level ratio: the geometric mean of the token ratios, clipped per sequence.
    Gspo,
    /// GSPO's sequence ratio in value, with per-token gradients (allows per-token advantages).
    GspoToken,
    /// Negative log-likelihood of the loss tokens (supervised fine-tuning).
    Sft,
    /// CISPO (MiniMax-M1): -sg(clip(r, 1 - eps_low, 1 + eps_high)) * A * logp per token.
    Cispo,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregation {
    /// sum(l*M) / sum(M) over the whole batch.
    TokenMean,
    /// mean over sequences of each sequence's token mean.
    SeqMeanTokenMean,
    /// mean over sequences of each sequence's token sum.
    SeqMeanTokenSum,
    /// sum(l*M) / (B * L_max) (Dr. GRPO).
    SeqMeanTokenSumNorm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KlEstimator {
    /// -d, with d = logp_ref - logp.
    K1,
    /// d^2 / 2.
    K2,
    /// exp(d) - d - 1: unbiased and never negative.
    K3,
}

/// CISPO's default lower clip: 1 - 1 = 0, which no ratio reaches. MiniMax-M1 imposes no
/// lower bound on the weight ("setting eps_low to a large value") and tunes only the upper one.
pub const CISPO_EPS_LOW: f64 = 1.0;
/// CISPO's default upper clip: the weight is capped at 1 + 3 = 4, Tinker's default
/// `clip_high_threshold` (NeMo RL uses 6, MiniMax-M1 does not publish its value).
pub const CISPO_EPS_HIGH: f64 = 3.0;

#[derive(Debug, Clone, PartialEq)]
pub struct LossConfig {
    pub kind: LossKind,
    /// The ratio is clipped below at 1 - eps_low.
    pub eps_low: f64,
    /// The ratio is clipped above at 1 + eps_high.
    pub eps_high: f64,
    /// Dual-clip constant c > 1 (token_clip only): for A < 0 the loss is at most -A * c.
    pub dual_clip: Option<f64>,
    pub aggregation: Aggregation,
    /// L_max of `SeqMeanTokenSumNorm`; `None` uses the longest sequence of the batch.
    pub max_completion_length: Option<usize>,
    /// Weight of the KL penalty; 0 leaves the loss without one.
    pub beta: f64,
    pub kl_estimator: KlEstimator,
}

impl LossConfig {
    /// The defaults of ALGORITHMS.md for `kind`: clip 0.2 / 0.2 and token-mean, except GSPO's
    /// 3e-4 / 4e-4 and seq-mean-token-mean, and CISPO's 1 / 3 (the weight capped at 4, no
    /// lower bound); no dual-clip; beta 0 with the k3 estimator.
    pub fn new(kind: LossKind) -> Self {
        let gspo = matches!(kind, LossKind::Gspo | LossKind::GspoToken);
        let (eps_low, eps_high) = match kind {
            LossKind::Gspo | LossKind::GspoToken => (3e-4, 4e-4),
            LossKind::Cispo => (CISPO_EPS_LOW, CISPO_EPS_HIGH),
            _ => (0.2, 0.2),
        };
        LossConfig {
            kind,
            eps_low,
            eps_high,
            dual_clip: None,
            aggregation: if gspo { Aggregation::SeqMeanTokenMean } else { Aggregation::TokenMean },
            max_completion_length: None,
            beta: 0.0,
            kl_estimator: KlEstimator::K3,
        }
    }

    pub fn validate(&self) -> Result<()> {
        check_range("epsLow", self.eps_low, 0.0, 1.0)?;
        check_range("epsHigh", self.eps_high, 0.0, 10.0)?;
        if let Some(c) = self.dual_clip {
            if !(c.is_finite() && c > 1.0) {
                return Err(invalid(format!("dualClip must be a finite number greater than 1 (3 is usual), got {c}")));
            }
            if self.kind != LossKind::TokenClip {
                return Err(invalid(format!("dualClip applies to loss 'token_clip' only, not '{}'; remove it", self.kind.name())));
            }
        }
        if self.kind == LossKind::Gspo && self.aggregation != Aggregation::SeqMeanTokenMean {
            return Err(invalid(format!(
                "loss 'gspo' is defined with aggregation 'seq-mean-token-mean', got '{}'; use 'gspo_token' for other aggregations",
                self.aggregation.name()
            )));
        }
        if self.max_completion_length == Some(0) {
            return Err(invalid("maxCompletionLength must be a positive integer, got 0".into()));
        }
        if !(self.beta.is_finite() && self.beta >= 0.0) {
            return Err(invalid(format!("beta must be a finite number >= 0, got {}", self.beta)));
        }
        Ok(())
    }
}

fn invalid(message: String) -> CoreError {
    CoreError::new(ErrorCode::InvalidParameter, message)
}

fn unknown(what: &str, got: &str, expected: &str) -> CoreError {
    CoreError::new(ErrorCode::InvalidArgument, format!("unknown {what} '{got}'; expected one of {expected}"))
}

impl LossKind {
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "token_clip" => Ok(LossKind::TokenClip),
            "gspo" => Ok(LossKind::Gspo),
            "gspo_token" => Ok(LossKind::GspoToken),
            "sft" => Ok(LossKind::Sft),
            "cispo" => Ok(LossKind::Cispo),
            other => Err(unknown("loss", other, "'token_clip', 'gspo', 'gspo_token', 'cispo', 'sft'")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            LossKind::TokenClip => "token_clip",
            LossKind::Gspo => "gspo",
            LossKind::GspoToken => "gspo_token",
            LossKind::Sft => "sft",
            LossKind::Cispo => "cispo",
        }
    }
}

impl Aggregation {
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "token-mean" => Ok(Aggregation::TokenMean),
            "seq-mean-token-mean" => Ok(Aggregation::SeqMeanTokenMean),
            "seq-mean-token-sum" => Ok(Aggregation::SeqMeanTokenSum),
            "seq-mean-token-sum-norm" => Ok(Aggregation::SeqMeanTokenSumNorm),
            other => Err(unknown(
                "aggregation",
                other,
                "'token-mean', 'seq-mean-token-mean', 'seq-mean-token-sum', 'seq-mean-token-sum-norm'",
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Aggregation::TokenMean => "token-mean",
            Aggregation::SeqMeanTokenMean => "seq-mean-token-mean",
            Aggregation::SeqMeanTokenSum => "seq-mean-token-sum",
            Aggregation::SeqMeanTokenSumNorm => "seq-mean-token-sum-norm",
        }
    }
}

impl KlEstimator {
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "k1" => Ok(KlEstimator::K1),
            "k2" => Ok(KlEstimator::K2),
            "k3" => Ok(KlEstimator::K3),
            other => Err(unknown("klEstimator", other, "'k1', 'k2', 'k3'")),
        }
    }
}

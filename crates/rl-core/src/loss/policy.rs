//! The policy loss of a batch, its metrics, and its analytic gradient with respect to the
//! per-token log-probs. The trainer backpropagates through the model with the surrogate
//! sum_t logp_t * grad_t (grad held constant), so this one function defines both the value
//! and the update of every loss type.

use super::cispo::cispo_weight;
use super::config::{LossConfig, LossKind};
use super::inputs::{check, Advantages, LossInput};
use super::kl::{kl_term, LOG_RATIO_CLAMP};
use super::metrics::{LossMetrics, Tally};
use super::normalizer::count_tokens;
use super::surrogate::{clipped_surrogate, ClipRange, Region};
use crate::error::Result;

/// GSPO's log s_i is clamped to at most this before `exp`.
pub const GSPO_LOG_RATIO_MAX: f64 = 10.0;

#[derive(Debug, Clone, PartialEq)]
pub struct LossOutput {
    /// policy_loss + beta * kl.
    pub loss: f64,
    pub metrics: LossMetrics,
    /// d loss / d logprobs, one value per token (0 off the mask).
    pub grad: Vec<f32>,
}

pub fn compute_policy_loss(input: &LossInput, config: &LossConfig) -> Result<LossOutput> {
    let checked = check(input, config)?;
    let mut batch = Batch {
        input,
        config,
        // SFT reads no old log-probs; `check` requires them for every other loss.
        old: input.old_logprobs.unwrap_or(&[]),
        advantages: checked.advantages,
        clip: ClipRange { eps_low: config.eps_low, eps_high: config.eps_high, dual_clip: config.dual_clip },
        grad: vec![0f64; input.logprobs.len()],
        policy_loss: 0.0,
        kl: 0.0,
        tally: Tally::new(),
    };
    for (k, w) in checked.bounds.windows(2).enumerate() {
        let tokens = count_tokens(&input.mask[w[0]..w[1]]);
        if tokens == 0 {
            continue;
        }
        let seq = Sequence { index: k, start: w[0], end: w[1], weight: checked.normalizer.token_weight(config.aggregation, tokens), tokens };
        match config.kind {
            LossKind::TokenClip => batch.token_clip(&seq),
            LossKind::Gspo | LossKind::GspoToken => batch.gspo(&seq),
            LossKind::Sft => batch.sft(&seq),
            LossKind::Cispo => batch.cispo(&seq),
        }
        if let Some(reference) = input.ref_logprobs {
            batch.kl_penalty(&seq, reference);
        }
    }
    let loss = batch.policy_loss + config.beta * batch.kl;
    Ok(LossOutput {
        loss,
        metrics: batch.tally.finish(batch.policy_loss, batch.kl),
        grad: batch.grad.into_iter().map(|g| g as f32).collect(),
    })
}

struct Sequence {
    index: usize,
    start: usize,
    end: usize,
    /// The aggregation weight of each of its loss tokens.
    weight: f64,
    tokens: usize,
}

struct Batch<'a> {
    input: &'a LossInput<'a>,
    config: &'a LossConfig,
    old: &'a [f32],
    advantages: Advantages<'a>,
    clip: ClipRange,
    grad: Vec<f64>,
    policy_loss: f64,
    kl: f64,
    tally: Tally,
}

/// The positions of the loss tokens of `seq`.
fn loss_tokens<'m>(mask: &'m [u8], seq: &Sequence) -> impl Iterator<Item = usize> + 'm {
    (seq.start..seq.end).filter(move |&t| mask[t] != 0)
}

impl Batch<'_> {
    fn log_ratio(&self, t: usize) -> f64 {
        self.input.logprobs[t] as f64 - self.old[t] as f64
    }

    fn token_clip(&mut self, seq: &Sequence) {
        for t in loss_tokens(self.input.mask, seq) {
            let raw = self.log_ratio(t);
            let log_ratio = raw.clamp(-LOG_RATIO_CLAMP, LOG_RATIO_CLAMP);
            let ratio = log_ratio.exp();
            let s = clipped_surrogate(ratio, self.advantages.at(seq.index, t), &self.clip);
            self.policy_loss += seq.weight * s.loss;
            if log_ratio == raw {
                self.grad[t] += seq.weight * s.dloss_dlog_ratio;
            }
            self.tally.record(ratio, s.region);
        }
    }

    /// GSPO and GSPO-token share the sequence ratio s_i = exp(mean_t log r_t). GSPO
    /// differentiates through s_i, so every token of the sequence receives
    /// (1 / |o_i|) * sum_t d l_t / d log s_i. GSPO-token uses sg[s_i] * p_t / sg[p_t]: same
    /// value, and each token receives only its own term d l_t / d log s_{i,t}.
    fn gspo(&mut self, seq: &Sequence) {
        let tokens: Vec<usize> = loss_tokens(self.input.mask, seq).collect();
        let raw = tokens.iter().map(|&t| self.log_ratio(t)).sum::<f64>() / seq.tokens as f64;
        let log_s = raw.min(GSPO_LOG_RATIO_MAX);
        let s = log_s.exp();
        let mut dloss_dlog_s = 0.0;
        for &t in &tokens {
            let term = clipped_surrogate(s, self.advantages.at(seq.index, t), &self.clip);
            self.policy_loss += seq.weight * term.loss;
            match self.config.kind {
                LossKind::GspoToken => self.grad[t] += seq.weight * term.dloss_dlog_ratio,
                _ => dloss_dlog_s += seq.weight * term.dloss_dlog_ratio,
            }
            self.tally.record(s, term.region);
        }
        if self.config.kind == LossKind::Gspo && log_s == raw {
            let share = dloss_dlog_s / seq.tokens as f64;
            for &t in &tokens {
                self.grad[t] += share;
            }
        }
    }

    /// The weight is held constant, so the gradient is -w * A whatever the clamp of the
    /// log-ratio did to w; the loss's value is the stop-gradient surrogate -w * A * logp.
    fn cispo(&mut self, seq: &Sequence) {
        for t in loss_tokens(self.input.mask, seq) {
            let ratio = self.log_ratio(t).clamp(-LOG_RATIO_CLAMP, LOG_RATIO_CLAMP).exp();
            let (weight, region) = cispo_weight(ratio, self.config.eps_low, self.config.eps_high);
            let coefficient = -weight * self.advantages.at(seq.index, t);
            self.policy_loss += seq.weight * coefficient * self.input.logprobs[t] as f64;
            self.grad[t] += seq.weight * coefficient;
            self.tally.record(ratio, region);
        }
    }

    fn sft(&mut self, seq: &Sequence) {
        for t in loss_tokens(self.input.mask, seq) {
            self.policy_loss -= seq.weight * self.input.logprobs[t] as f64;
            self.grad[t] -= seq.weight;
            self.tally.record(1.0, Region::Unclipped);
        }
    }

    fn kl_penalty(&mut self, seq: &Sequence, reference: &[f32]) {
        let beta = self.config.beta;
        for t in loss_tokens(self.input.mask, seq) {
            let (value, dvalue) = kl_term(self.config.kl_estimator, self.input.logprobs[t] as f64, reference[t] as f64);
            self.kl += seq.weight * value;
            self.grad[t] += beta * seq.weight * dvalue;
        }
    }
}

//! What one loss call reports besides the loss itself.

use super::surrogate::Region;

#[derive(Debug, Clone, PartialEq)]
pub struct LossMetrics {
    /// The aggregated policy term, without the KL penalty.
    pub policy_loss: f64,
    /// The aggregated KL estimate (before beta); 0 without reference log-probs.
    pub kl: f64,
    /// Fraction of loss tokens whose term was clipped (low + high + dual): zero gradient, except
    /// in CISPO, where it counts the tokens whose importance weight was clipped.
    pub clip_frac: f64,
    pub clip_frac_low: f64,
    pub clip_frac_high: f64,
    pub dual_clip_frac: f64,
    /// Mean, min and max over loss tokens of the ratio the loss clips (the token ratio, or
    /// the sequence ratio s_i for GSPO); 1 when there are no loss tokens or the loss is SFT.
    pub ratio_mean: f64,
    pub ratio_min: f64,
    pub ratio_max: f64,
    /// Loss tokens in this call.
    pub tokens: usize,
}

/// Counts regions and ratio statistics token by token.
pub(crate) struct Tally {
    tokens: usize,
    low: usize,
    high: usize,
    dual: usize,
    ratio_sum: f64,
    ratio_min: f64,
    ratio_max: f64,
}

impl Tally {
    pub fn new() -> Self {
        Tally { tokens: 0, low: 0, high: 0, dual: 0, ratio_sum: 0.0, ratio_min: f64::INFINITY, ratio_max: f64::NEG_INFINITY }
    }

    pub fn record(&mut self, ratio: f64, region: Region) {
        self.tokens += 1;
        match region {
            Region::Unclipped => {}
            Region::ClippedLow => self.low += 1,
            Region::ClippedHigh => self.high += 1,
            Region::DualClipped => self.dual += 1,
        }
        self.ratio_sum += ratio;
        self.ratio_min = self.ratio_min.min(ratio);
        self.ratio_max = self.ratio_max.max(ratio);
    }

    pub fn finish(self, policy_loss: f64, kl: f64) -> LossMetrics {
        let frac = |count: usize| if self.tokens == 0 { 0.0 } else { count as f64 / self.tokens as f64 };
        let empty = self.tokens == 0;
        LossMetrics {
            policy_loss,
            kl,
            clip_frac: frac(self.low + self.high + self.dual),
            clip_frac_low: frac(self.low),
            clip_frac_high: frac(self.high),
            dual_clip_frac: frac(self.dual),
            ratio_mean: if empty { 1.0 } else { self.ratio_sum / self.tokens as f64 },
            ratio_min: if empty { 1.0 } else { self.ratio_min },
            ratio_max: if empty { 1.0 } else { self.ratio_max },
            tokens: self.tokens,
        }
    }
}

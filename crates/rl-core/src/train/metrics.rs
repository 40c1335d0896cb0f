//! What a training step reports, summed over its micro-batches. The loss terms already
//! carry the whole batch's normalizers, so they add up; fractions and means are weighted
//! by each micro-batch's loss tokens.

use crate::loss::{LossMetrics, LossOutput};
use crate::optim::StepReport;

#[derive(Debug, Clone, PartialEq)]
pub struct TrainMetrics {
    /// policy_loss + beta * kl.
    pub loss: f64,
    /// The loss's own metrics over the whole batch (tokens: the batch's loss tokens).
    pub policy: LossMetrics,
    /// Mean entropy of the policy over loss tokens.
    pub entropy: f64,
    /// Global gradient norm before clipping (NaN or infinite on a skipped step).
    pub grad_norm: f64,
    pub lr: f64,
    /// Whether this step was skipped (non-finite log-probs, loss or gradient): the weights are unchanged.
    pub skipped: bool,
    /// Steps skipped so far, this one included.
    pub skipped_steps: u64,
    /// Optimizer updates applied so far.
    pub steps: u64,
    /// Where the step's time went, when the layer-wise engine ran it (candle's autograd
    /// interleaves forward, head and backward in one graph).
    pub phases: Option<Phases>,
}

/// Seconds of one step by phase: the decoder's forward, the loss head (logits, loss and
/// their gradients), the decoder's backward (recomputed blocks included), the optimizer
/// (clipping and AdamW), and the rest (batch checks, layout, gradient buffers).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Phases {
    pub forward_s: f64,
    pub head_s: f64,
    pub backward_s: f64,
    pub optimizer_s: f64,
    pub other_s: f64,
}

/// Running sums over micro-batches.
pub(crate) struct Summary {
    loss: f64,
    policy_loss: f64,
    kl: f64,
    entropy_sum: f64,
    tokens: usize,
    /// Sums of clip_frac, clip_frac_low, clip_frac_high, dual_clip_frac and ratio_mean
    /// times tokens.
    weighted: [f64; 5],
    ratio_min: f64,
    ratio_max: f64,
    phases: Option<Phases>,
}

impl Summary {
    pub fn new() -> Self {
        Summary { loss: 0.0, policy_loss: 0.0, kl: 0.0, entropy_sum: 0.0, tokens: 0, weighted: [0.0; 5], ratio_min: f64::INFINITY, ratio_max: f64::NEG_INFINITY, phases: None }
    }

    /// Adds a micro-batch's forward, head and backward seconds.
    pub fn add_phases(&mut self, forward_s: f64, head_s: f64, backward_s: f64) {
        let p = self.phases.get_or_insert_with(Phases::default);
        p.forward_s += forward_s;
        p.head_s += head_s;
        p.backward_s += backward_s;
    }

    pub fn add(&mut self, out: &LossOutput, entropy: &[f64]) {
        let m = &out.metrics;
        self.loss += out.loss;
        self.policy_loss += m.policy_loss;
        self.kl += m.kl;
        self.entropy_sum += entropy.iter().sum::<f64>();
        self.tokens += m.tokens;
        let n = m.tokens as f64;
        for (sum, value) in self.weighted.iter_mut().zip([m.clip_frac, m.clip_frac_low, m.clip_frac_high, m.dual_clip_frac, m.ratio_mean]) {
            *sum += value * n;
        }
        if m.tokens > 0 {
            self.ratio_min = self.ratio_min.min(m.ratio_min);
            self.ratio_max = self.ratio_max.max(m.ratio_max);
        }
    }

    /// NaN once a micro-batch's log-probs were not finite: the step is then skipped.
    pub fn loss(&self) -> f64 {
        self.loss
    }

    /// A forward pass gave non-finite log-probs: the loss is unknown and the step is skipped.
    pub fn mark_non_finite(&mut self) {
        self.loss = f64::NAN;
        self.policy_loss = f64::NAN;
    }

    /// The step's metrics; `optimizer_s` and `total_s` complete the phases.
    pub fn finish(self, report: StepReport, lr: f64, skipped_steps: u64, steps: u64, optimizer_s: f64, total_s: f64) -> TrainMetrics {
        let n = self.tokens.max(1) as f64;
        let [clip, low, high, dual, ratio_sum] = self.weighted;
        let policy = LossMetrics {
            policy_loss: self.policy_loss,
            kl: self.kl,
            clip_frac: clip / n,
            clip_frac_low: low / n,
            clip_frac_high: high / n,
            dual_clip_frac: dual / n,
            ratio_mean: ratio_sum / n,
            ratio_min: self.ratio_min,
            ratio_max: self.ratio_max,
            tokens: self.tokens,
        };
        TrainMetrics {
            loss: self.loss,
            policy,
            entropy: self.entropy_sum / n,
            grad_norm: report.grad_norm,
            lr,
            skipped: report.skipped,
            skipped_steps,
            steps,
            phases: self.phases.map(|p| Phases { optimizer_s, other_s: (total_s - p.forward_s - p.head_s - p.backward_s - optimizer_s).max(0.0), ..p }),
        }
    }
}

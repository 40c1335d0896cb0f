//! The loss head on slices: the output projection at the loss tokens, the softmax
//! statistics, the policy loss's dL/dlogprob, and the backward into the hidden states and
//! (when it trains) the head weight, accumulated in place. Logits are computed once per
//! chunk of rows and kept for the backward when the micro-batch's fit (train::head's
//! limits, shared with candle's path; otherwise recomputed chunk by chunk); everything runs through `gemm` and the f32
//! softmax kernels, with no tensor in between.

use rayon::prelude::*;

use super::matmul::{self, Layout};
use crate::error::Result;
use crate::kernels::softmax;
use crate::train::head::{keep_limit, LOGIT_ROWS};


pub(crate) struct Head<'a> {
    /// [vocab, hidden].
    pub weight: &'a [f32],
    pub hidden: usize,
    pub temperature: f64,
}

/// Log-probs and entropies of the targets under softmax(picked W^T / T).
pub(crate) struct Values {
    pub logprobs: Vec<f32>,
    pub entropy: Vec<f64>,
    log_normalizers: Vec<f32>,
    kept: Vec<Vec<f32>>,
}

impl Head<'_> {
    fn vocab(&self) -> usize {
        self.weight.len() / self.hidden
    }

    fn chunks(&self, n: usize) -> impl Iterator<Item = (usize, usize)> {
        (0..n).step_by(LOGIT_ROWS).map(move |start| (start, LOGIT_ROWS.min(n - start)))
    }

    fn logits(&self, picked: &[f32], start: usize, rows: usize) -> Vec<f32> {
        let (h, v) = (self.hidden, self.vocab());
        let mut logits = vec![0f32; rows * v];
        matmul::forward(&mut logits, &picked[start * h..(start + rows) * h], self.weight, Layout::OutIn, rows, h, v, false);
        logits
    }

    /// `picked` [n, hidden] are the final hidden states of the n loss tokens `targets`.
    pub fn values(&self, picked: &[f32], targets: &[u32]) -> Values {
        let (v, inv) = (self.vocab(), (1.0 / self.temperature) as f32);
        let keep = targets.len() * v <= keep_limit();
        let mut out = Values { logprobs: Vec::new(), entropy: Vec::new(), log_normalizers: Vec::new(), kept: Vec::new() };
        for (start, rows) in self.chunks(targets.len()) {
            let logits = self.logits(picked, start, rows);
            let stats: Vec<(f64, f64)> = logits.par_chunks(v).map(|row| softmax::stats(row, inv)).collect();
            for (r, (lse, expected)) in stats.into_iter().enumerate() {
                out.logprobs.push((logits[r * v + targets[start + r] as usize] as f64 * inv as f64 - lse) as f32);
                out.entropy.push(lse - expected);
                out.log_normalizers.push(lse as f32);
            }
            if keep {
                out.kept.push(logits);
            }
        }
        out
    }

    /// The gradient of sum_t grad_t * logprob_t with respect to `picked` ([n, hidden]);
    /// adds the head weight's to `d_weight` when given.
    pub fn backward(&self, picked: &[f32], targets: &[u32], mut values: Values, grad: &[f32], mut d_weight: Option<&mut [f32]>) -> Result<Vec<f32>> {
        let (h, v, inv) = (self.hidden, self.vocab(), (1.0 / self.temperature) as f32);
        let mut d_picked = vec![0f32; picked.len()];
        let mut kept = std::mem::take(&mut values.kept).into_iter();
        for (start, rows) in self.chunks(targets.len()) {
            let mut d_logits = kept.next().unwrap_or_else(|| self.logits(picked, start, rows));
            d_logits.par_chunks_mut(v).enumerate().for_each(|(r, row)| {
                let i = start + r;
                // d / d logits = (grad_t / T) * ([v == target] - p_v).
                let coef = grad[i] * inv;
                softmax::gradient(row, inv, values.log_normalizers[i], coef);
                row[targets[i] as usize] += coef;
            });
            matmul::input_grad(&mut d_picked[start * h..(start + rows) * h], &d_logits, self.weight, Layout::OutIn, rows, v, h, false);
            if let Some(dw) = d_weight.as_deref_mut() {
                matmul::weight_grad(dw, &d_logits, &picked[start * h..(start + rows) * h], Layout::OutIn, rows, v, h);
            }
        }
        Ok(d_picked)
    }
}

//! Choosing the next token from one row of logits.
//!
//! The reported log-probability is always that of the policy the trainer scores:
//! log_softmax(logits / temperature) over the full vocabulary (temperature 1 when
//! sampling greedily). Repetition penalty, top-k, top-p and min-p only decide which
//! token is drawn; they never change the reported log-probability.

use std::cmp::Ordering;

use crate::error::{check_range, CoreError, ErrorCode, Result};
use crate::kernels::softmax;
use crate::model::weights::SplitMix64;

#[derive(Debug, Clone, PartialEq)]
pub struct SamplingParams {
    /// 0 = greedy; otherwise logits are divided by it.
    pub temperature: f64,
    /// Nucleus sampling: the smallest set of most likely tokens with at least this mass (1 = off).
    pub top_p: f64,
    /// Only the `top_k` most likely tokens (0 = off).
    pub top_k: usize,
    /// Only tokens at least `min_p` times as likely as the most likely one (0 = off).
    pub min_p: f64,
    /// Logits of tokens already in the sequence: divided by it when positive, multiplied
    /// when negative (1 = off).
    pub repetition_penalty: f64,
}

impl Default for SamplingParams {
    fn default() -> Self {
        SamplingParams { temperature: 1.0, top_p: 1.0, top_k: 0, min_p: 0.0, repetition_penalty: 1.0 }
    }
}

impl SamplingParams {
    pub fn validate(&self) -> Result<()> {
        check_range("temperature", self.temperature, 0.0, 100.0)?;
        check_range("minP", self.min_p, 0.0, 1.0)?;
        check_range("repetitionPenalty", self.repetition_penalty, 1e-3, 1e3)?;
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(CoreError::new(ErrorCode::InvalidParameter, format!("topP must be in (0, 1], got {}", self.top_p)));
        }
        Ok(())
    }

    /// The temperature of the reported log-probabilities.
    pub fn scoring_temperature(&self) -> f64 {
        if self.temperature == 0.0 {
            1.0
        } else {
            self.temperature
        }
    }
}

/// log_softmax(logits / temperature)[token], by the arithmetic scoring and the loss head
/// use (`token_statistics`), so rollout log-probs are those training recomputes.
pub fn token_logprob(logits: &[f32], token: u32, temperature: f64) -> f32 {
    crate::score::token_statistics(logits, token, temperature, false).logprob as f32
}

/// Draws the next token. `seen` lists the distinct tokens already in the sequence (for the
/// repetition penalty). Returns the token and its log-probability under the policy.
pub fn sample(logits: &[f32], params: &SamplingParams, seen: &[u32], rng: &mut SplitMix64) -> (u32, f32) {
    let penalized;
    let adjusted = if params.repetition_penalty != 1.0 && !seen.is_empty() {
        let p = params.repetition_penalty as f32;
        let mut copy = logits.to_vec();
        for &t in seen {
            let x = &mut copy[t as usize];
            *x = if *x > 0.0 { *x / p } else { *x * p };
        }
        penalized = copy;
        &penalized[..]
    } else {
        logits
    };
    let token = if params.temperature == 0.0 { argmax(adjusted) } else { draw(adjusted, params, rng) };
    (token, token_logprob(logits, token, params.scoring_temperature()))
}

fn argmax(xs: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &x) in xs.iter().enumerate() {
        if x > xs[best] {
            best = i;
        }
    }
    best as u32
}

fn descending(a: &(f32, u32), b: &(f32, u32)) -> Ordering {
    b.0.partial_cmp(&a.0).unwrap_or(Ordering::Equal).then(a.1.cmp(&b.1))
}

/// Samples from softmax(logits / temperature) restricted by top-k, then top-p, then min-p.
/// Weights are left unnormalized (the largest is 1): every rule below is relative.
fn draw(logits: &[f32], params: &SamplingParams, rng: &mut SplitMix64) -> u32 {
    let weights = softmax::relative_weights(logits, (1.0 / params.temperature) as f32);
    if params.top_k == 0 && params.top_p >= 1.0 && params.min_p == 0.0 {
        // No rule restricts the draw: walk the weights in vocabulary order.
        let total: f64 = weights.iter().map(|&w| w as f64).sum();
        let mut u = rng.uniform() * total;
        for (token, &w) in weights.iter().enumerate() {
            u -= w as f64;
            if u < 0.0 {
                return token as u32;
            }
        }
        return weights.iter().rposition(|&w| w > 0.0).unwrap_or(0) as u32;
    }
    let mut candidates: Vec<(f32, u32)> = weights.into_iter().enumerate().map(|(i, w)| (w, i as u32)).collect();
    if params.top_k > 0 && params.top_k < candidates.len() {
        candidates.select_nth_unstable_by(params.top_k - 1, descending);
        candidates.truncate(params.top_k);
    }
    if params.top_p < 1.0 {
        keep_nucleus(&mut candidates, params.top_p);
    }
    if params.min_p > 0.0 {
        let max = candidates.iter().fold(0f32, |m, c| m.max(c.0));
        let threshold = (params.min_p as f32) * max;
        candidates.retain(|c| c.0 >= threshold);
    }
    let total: f64 = candidates.iter().map(|c| c.0 as f64).sum();
    let mut u = rng.uniform() * total;
    for &(p, token) in &candidates {
        u -= p as f64;
        if u < 0.0 {
            return token;
        }
    }
    candidates.last().map_or(0, |c| c.1)
}

/// Keeps the most likely candidates whose mass (relative to all candidates) first
/// reaches `top_p`. Sorts only a growing prefix: the nucleus is usually small.
fn keep_nucleus(candidates: &mut Vec<(f32, u32)>, top_p: f64) {
    let target = top_p * candidates.iter().map(|c| c.0 as f64).sum::<f64>();
    let mut prefix = 64.min(candidates.len());
    loop {
        if prefix < candidates.len() {
            candidates.select_nth_unstable_by(prefix - 1, descending);
        }
        candidates[..prefix].sort_unstable_by(descending);
        let mut mass = 0.0;
        for i in 0..prefix {
            mass += candidates[i].0 as f64;
            if mass >= target {
                candidates.truncate(i + 1);
                return;
            }
        }
        if prefix == candidates.len() {
            return;
        }
        prefix = (prefix * 8).min(candidates.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOGITS: [f32; 5] = [2.0, 1.0, 0.5, -1.0, 3.0];

    fn counts(params: &SamplingParams, seen: &[u32]) -> [usize; 5] {
        let mut rng = SplitMix64(9);
        let mut c = [0; 5];
        for _ in 0..4000 {
            c[sample(&LOGITS, params, seen, &mut rng).0 as usize] += 1;
        }
        c
    }

    #[test]
    fn reported_logprob_is_the_full_vocabulary_log_softmax_at_the_temperature() {
        let params = SamplingParams { temperature: 0.7, top_k: 2, top_p: 0.5, ..Default::default() };
        let (token, logp) = sample(&LOGITS, &params, &[], &mut SplitMix64(1));
        let z: f64 = LOGITS.iter().map(|&x| (x as f64 / 0.7).exp()).sum();
        let expected = (LOGITS[token as usize] as f64 / 0.7).exp() / z;
        assert!((logp as f64 - expected.ln()).abs() < 1e-6);
    }

    #[test]
    fn greedy_takes_the_argmax_and_reports_temperature_one() {
        let (token, logp) = sample(&LOGITS, &SamplingParams { temperature: 0.0, ..Default::default() }, &[], &mut SplitMix64(1));
        assert_eq!(token, 4);
        assert!((logp - token_logprob(&LOGITS, 4, 1.0)).abs() < 1e-7);
    }

    #[test]
    fn top_k_top_p_and_min_p_restrict_the_draw() {
        let only = |c: [usize; 5], allowed: &[usize]| (0..5).all(|i| allowed.contains(&i) || c[i] == 0);
        let top_k = counts(&SamplingParams { top_k: 2, ..Default::default() }, &[]);
        assert!(only(top_k, &[0, 4]) && top_k[0] > 0 && top_k[4] > 0);
        // Probabilities: 0.229, 0.084, 0.051, 0.011, 0.624 -> the top two hold 0.853.
        let top_p = counts(&SamplingParams { top_p: 0.8, ..Default::default() }, &[]);
        assert!(only(top_p, &[0, 4]) && top_p[0] > 0);
        let min_p = counts(&SamplingParams { min_p: 0.3, ..Default::default() }, &[]);
        assert!(only(min_p, &[0, 4]) && min_p[0] > 0);
        assert!(counts(&SamplingParams::default(), &[]).iter().all(|&n| n > 0));
    }

    #[test]
    fn repetition_penalty_makes_seen_tokens_less_likely() {
        let greedy = SamplingParams { temperature: 0.0, repetition_penalty: 2.0, ..Default::default() };
        assert_eq!(sample(&LOGITS, &greedy, &[4], &mut SplitMix64(1)).0, 0);
    }

    #[test]
    fn invalid_parameters_are_rejected_with_their_name() {
        for (params, name) in [
            (SamplingParams { temperature: -1.0, ..Default::default() }, "temperature"),
            (SamplingParams { top_p: 0.0, ..Default::default() }, "topP"),
            (SamplingParams { min_p: 2.0, ..Default::default() }, "minP"),
            (SamplingParams { repetition_penalty: f64::NAN, ..Default::default() }, "repetitionPenalty"),
        ] {
            let err = params.validate().unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidParameter);
            assert!(err.message.contains(name), "{}", err.message);
        }
    }
}

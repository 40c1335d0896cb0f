//! Per-token log-probabilities (and entropies) of given sequences, without a graph.
//!
//! Sequences of similar length are batched (right-padded: causal attention keeps padding
//! out of every real token's view) and run through the decoder a chunk of columns at a
//! time with a KV cache, and the output projection runs over chunks of positions: neither
//! the [batch, length, vocab] logits nor [length, length] attention scores of long
//! sequences ever exist at once.

use candle_core::{DType, Device, Tensor, WithDType};
use rayon::prelude::*;

use crate::error::{check_range, CoreError, ErrorCode, Result};
use crate::generate::kv_cache::KvCache;
use crate::model::Decoder;

/// Tokens (rows x padded length) batched together at most (this sizes the KV cache).
const BATCH_TOKENS: usize = 4096;
/// Tokens (rows x columns) one forward pass processes at most.
const FORWARD_TOKENS: usize = 1024;
/// Positions whose logits exist at once.
const LOGIT_ROWS: usize = 512;

#[derive(Debug, Clone)]
pub struct ScoreOptions {
    /// Index of the first token to score (at least 1: token 0 has no context).
    pub start: usize,
    pub temperature: f64,
    pub entropy: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Scored {
    /// log_softmax(logits / temperature)[token t] for t in start..len.
    pub logprobs: Vec<f32>,
    /// Entropy of each of those predictive distributions, when asked for.
    pub entropy: Option<Vec<f32>>,
}

pub fn score(decoder: &Decoder, sequences: &[Vec<u32>], options: &ScoreOptions) -> Result<Vec<Scored>> {
    check_range("temperature", options.temperature, 1e-6, 100.0)?;
    if options.start == 0 {
        return Err(CoreError::new(ErrorCode::InvalidParameter, "start must be at least 1: the first token has no context to be predicted from"));
    }
    let mut out: Vec<Scored> = sequences
        .iter()
        .map(|s| if s.len() > options.start { Scored { logprobs: Vec::new(), entropy: options.entropy.then(Vec::new) } } else { Scored::default() })
        .collect();
    visit_hidden_states(decoder, sequences, options.start, |hidden, positions| {
        for chunk in positions.chunks(LOGIT_ROWS) {
            let rows = Tensor::from_vec(chunk.iter().map(|p| p.row).collect::<Vec<_>>(), chunk.len(), &Device::Cpu)?;
            let logits = decoder.logits(&hidden.index_select(&rows, 0)?)?.to_vec2::<f32>()?;
            let values: Vec<(f32, f32)> = logits
                .par_iter()
                .zip(chunk)
                .map(|(row, p)| token_statistics(row, sequences[p.sequence][p.token], options.temperature, options.entropy))
                .map(|s| (s.logprob as f32, s.entropy as f32))
                .collect();
            for (p, (logprob, entropy)) in chunk.iter().zip(values) {
                out[p.sequence].logprobs.push(logprob);
                if let Some(e) = out[p.sequence].entropy.as_mut() {
                    e.push(entropy);
                }
            }
        }
        Ok(())
    })?;
    Ok(out)
}

/// A row of a forward chunk's flattened hidden states: the state after the tokens before
/// `token` of `sequence`, from which that token is predicted (and, for a critic, valued).
pub(crate) struct Position {
    pub row: u32,
    pub sequence: usize,
    pub token: usize,
}

/// Runs `decoder` without a graph over every sequence longer than `start`: longest first,
/// in batches of at most BATCH_TOKENS padded tokens, each a chunk of columns at a time with a
/// KV cache. For each chunk, `visit` gets its flattened final hidden states [rows * columns,
/// hidden] and the positions of tokens start.. in it, each sequence's in token order.
pub(crate) fn visit_hidden_states(decoder: &Decoder, sequences: &[Vec<u32>], start: usize, mut visit: impl FnMut(&Tensor, &[Position]) -> Result<()>) -> Result<()> {
    let mut order: Vec<usize> = (0..sequences.len()).filter(|&i| sequences[i].len() > start).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(sequences[i].len()));
    let mut rest = &order[..];
    while !rest.is_empty() {
        let width = sequences[rest[0]].len();
        let take = (BATCH_TOKENS / width).clamp(1, rest.len());
        let (batch, tail) = rest.split_at(take);
        let rows = batch.len();
        let mut ids = vec![0u32; rows * width];
        for (b, &i) in batch.iter().enumerate() {
            ids[b * width..b * width + sequences[i].len()].copy_from_slice(&sequences[i]);
        }
        let ids = Tensor::from_vec(ids, (rows, width), &Device::Cpu)?;
        let no_padding = vec![0; rows];
        let mut cache = KvCache::new(decoder.config(), rows, width)?;
        let columns = (FORWARD_TOKENS / rows).max(1);
        for first in (0..width).step_by(columns) {
            let len = columns.min(width - first);
            let hidden = decoder.forward(&ids.narrow(1, first, len)?, &no_padding, Some(&mut cache))?.flatten_to(1)?;
            // Token t is predicted from the hidden state at column t - 1.
            let mut positions = Vec::new();
            for (b, &i) in batch.iter().enumerate() {
                let (from, to) = (start.max(first + 1), sequences[i].len().min(first + len + 1));
                positions.extend((from..to).map(|t| Position { row: (b * len + t - 1 - first) as u32, sequence: i, token: t }));
            }
            visit(&hidden, &positions)?;
        }
        rest = tail;
    }
    Ok(())
}

/// What softmax(logits / T) says about one target token.
pub(crate) struct TokenStatistics {
    /// log of the softmax normalizer, log sum_i exp(z_i) with z = logits / T.
    pub log_normalizer: f64,
    pub logprob: f64,
    /// Entropy of the distribution; 0 when not asked for.
    pub entropy: f64,
}

/// The log-probability of `token` and (when asked) the entropy of softmax(logits / T), in
/// f64 whatever the logits' type (f32 here; f64 in the trainer's gradient checks).
pub(crate) fn token_statistics<T: WithDType>(logits: &[T], token: u32, temperature: f64, entropy: bool) -> TokenStatistics {
    if T::DTYPE == DType::F32 {
        // SAFETY: candle's f32 is the only WithDType whose DTYPE is F32.
        let logits = unsafe { std::slice::from_raw_parts(logits.as_ptr() as *const f32, logits.len()) };
        let (lse, expected) = crate::kernels::softmax::stats(logits, (1.0 / temperature) as f32);
        let logprob = logits[token as usize] as f64 / temperature - lse;
        return TokenStatistics { log_normalizer: lse, logprob, entropy: if entropy { lse - expected } else { 0.0 } };
    }
    let inv = 1.0 / temperature;
    let max = logits.iter().fold(f64::NEG_INFINITY, |m, &x| m.max(x.to_f64())) * inv;
    let lse = max + logits.iter().map(|&x| (x.to_f64() * inv - max).exp()).sum::<f64>().ln();
    let logprob = logits[token as usize].to_f64() * inv - lse;
    if !entropy {
        return TokenStatistics { log_normalizer: lse, logprob, entropy: 0.0 };
    }
    // H = lse - sum_i p_i z_i, with z = logits / T and p = softmax(z).
    let expected: f64 = logits.iter().map(|&x| x.to_f64() * inv).map(|z| (z - lse).exp() * z).sum();
    TokenStatistics { log_normalizer: lse, logprob, entropy: lse - expected }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tests::tiny_llama;
    use crate::model::{random_weights, Params};
    use candle_core::D;

    #[test]
    fn scores_match_the_log_softmax_of_a_plain_forward_in_any_batch() {
        let c = tiny_llama();
        let d = Decoder::new(&c, &Params::new(&random_weights(&c, 2).unwrap()).unwrap().detached()).unwrap();
        let seqs = vec![vec![3u32, 8, 1, 30, 22], vec![5, 6], vec![9], vec![0, 39, 4, 4, 4, 4, 17, 2]];
        let options = ScoreOptions { start: 1, temperature: 0.5, entropy: true };
        let together = score(&d, &seqs, &options).unwrap();
        assert!(together[2].logprobs.is_empty());
        for (seq, got) in seqs.iter().zip(&together) {
            let ids = Tensor::from_slice(seq, (1, seq.len()), &Device::Cpu).unwrap();
            let logits = (d.logits(&d.forward(&ids, &[0], None).unwrap().squeeze(0).unwrap()).unwrap() / 0.5).unwrap();
            let logp = candle_nn::ops::log_softmax(&logits, D::Minus1).unwrap().to_vec2::<f32>().unwrap();
            for t in 1..seq.len() {
                let row = &logp[t - 1];
                let entropy: f32 = -row.iter().map(|&l| l.exp() * l).sum::<f32>();
                assert!((got.logprobs[t - 1] - row[seq[t] as usize]).abs() < 1e-5);
                assert!((got.entropy.as_ref().unwrap()[t - 1] - entropy).abs() < 1e-4);
            }
        }
    }

    #[test]
    fn many_rows_are_scored_in_column_chunks_as_in_one_pass() {
        let c = tiny_llama();
        let d = Decoder::new(&c, &random_weights(&c, 4).unwrap()).unwrap();
        // 40 rows of 30 tokens: 25 columns per forward pass, so two passes with the cache.
        let seqs: Vec<Vec<u32>> = (0..40).map(|s| (0..30).map(|i| ((i * 7 + s * 13) % 40) as u32).collect()).collect();
        let options = ScoreOptions { start: 3, temperature: 1.0, entropy: false };
        let scored = score(&d, &seqs, &options).unwrap();
        for (seq, got) in seqs.iter().zip(&scored).step_by(9) {
            let ids = Tensor::from_slice(seq, (1, seq.len()), &Device::Cpu).unwrap();
            let logits = d.logits(&d.forward(&ids, &[0], None).unwrap().squeeze(0).unwrap()).unwrap();
            let logp = candle_nn::ops::log_softmax(&logits, D::Minus1).unwrap().to_vec2::<f32>().unwrap();
            assert_eq!(got.logprobs.len(), seq.len() - 3);
            for t in 3..seq.len() {
                assert!((got.logprobs[t - 3] - logp[t - 1][seq[t] as usize]).abs() < 1e-5, "token {t}");
            }
        }
    }

    #[test]
    fn start_zero_and_bad_temperatures_are_rejected() {
        let c = tiny_llama();
        let d = Decoder::new(&c, &random_weights(&c, 2).unwrap()).unwrap();
        let seqs = vec![vec![1u32, 2]];
        let err = score(&d, &seqs, &ScoreOptions { start: 0, temperature: 1.0, entropy: false }).unwrap_err();
        assert!(err.message.contains("start"));
        let err = score(&d, &seqs, &ScoreOptions { start: 1, temperature: 0.0, entropy: false }).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidParameter);
    }
}

//! Batched sampling from a decoder with a KV cache.
//!
//! Prompts are left-padded to a common length so that every row decodes in the same
//! column; each decode step is one forward pass of the whole batch (one matrix product
//! per weight). Rows that have stopped leave the batch (once a quarter of it has), so the
//! work shrinks with them. Every row draws from its own generator: seeded by its own entry
//! of `row_seeds` when given (so a row's tokens depend on its prompt and seed alone, not
//! on the batch it shares or its place in it), else by (seed, row index).

pub mod kv_cache;
pub mod sampling;

use candle_core::{Device, Tensor};
use rayon::prelude::*;

use crate::error::{CoreError, ErrorCode, Result};
use crate::model::weights::SplitMix64;
use crate::model::Decoder;
use kv_cache::KvCache;
pub use sampling::SamplingParams;

/// Tokens one prefill forward pass processes at most (rows x columns), which bounds the
/// memory of its activations and attention scores.
const PREFILL_TOKENS: usize = 2048;

#[derive(Debug, Clone)]
pub struct GenerateOptions {
    pub max_new_tokens: usize,
    pub sampling: SamplingParams,
    /// Generation of a row ends after it produces one of these (kept in its tokens).
    pub stop_token_ids: Vec<u32>,
    /// Seeds row i by (seed, i) when `row_seeds` is absent.
    pub seed: u64,
    /// One seed per prompt. Callers that batch independent samples (rollouts) give each
    /// its own, so that how the samples are batched does not change what they draw.
    pub row_seeds: Option<Vec<u64>>,
}

impl GenerateOptions {
    /// The seed of row `index`'s generator.
    fn seed_of_row(&self, index: usize) -> u64 {
        match &self.row_seeds {
            Some(seeds) => seeds[index],
            None => self.seed ^ (index as u64).wrapping_mul(0xD1B5_4A32_D192_ED03),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    Stop,
    Length,
}

#[derive(Debug, Clone)]
pub struct Completion {
    pub tokens: Vec<u32>,
    /// log_softmax(logits / temperature) of each token over the full vocabulary.
    pub logprobs: Vec<f32>,
    pub finish_reason: FinishReason,
}

/// One prompt's state during generation.
struct Row {
    completion: Completion,
    rng: SplitMix64,
    /// Distinct tokens of the prompt and completion (for the repetition penalty).
    seen: Vec<u32>,
    seen_flags: Vec<bool>,
    done: bool,
}

impl Row {
    fn new(prompt: &[u32], vocab: usize, seed: u64) -> Self {
        let mut row = Row {
            completion: Completion { tokens: Vec::new(), logprobs: Vec::new(), finish_reason: FinishReason::Length },
            rng: SplitMix64(seed),
            seen: Vec::new(),
            seen_flags: vec![false; vocab],
            done: false,
        };
        prompt.iter().for_each(|&t| row.remember(t));
        row
    }

    fn remember(&mut self, token: u32) {
        if !self.seen_flags[token as usize] {
            self.seen_flags[token as usize] = true;
            self.seen.push(token);
        }
    }

    fn step(&mut self, logits: &[f32], options: &GenerateOptions) {
        let (token, logprob) = sampling::sample(logits, &options.sampling, &self.seen, &mut self.rng);
        self.completion.tokens.push(token);
        self.completion.logprobs.push(logprob);
        self.remember(token);
        if options.stop_token_ids.contains(&token) {
            self.completion.finish_reason = FinishReason::Stop;
            self.done = true;
        } else if self.completion.tokens.len() == options.max_new_tokens {
            self.done = true;
        }
    }
}

pub fn generate(decoder: &Decoder, prompts: &[Vec<u32>], options: &GenerateOptions) -> Result<Vec<Completion>> {
    options.sampling.validate()?;
    let config = decoder.config();
    if let Some(i) = prompts.iter().position(|p| p.is_empty()) {
        return Err(CoreError::new(ErrorCode::InvalidArgument, format!("prompt {i} is empty; give at least one token (e.g. the BOS token)")));
    }
    if let Some(seeds) = &options.row_seeds {
        if seeds.len() != prompts.len() {
            return Err(CoreError::new(
                ErrorCode::InvalidParameter,
                format!("seeds has {} entries for {} prompts; give one seed per prompt", seeds.len(), prompts.len()),
            ));
        }
    }
    let longest = prompts.iter().map(Vec::len).max().unwrap_or(0);
    if longest + options.max_new_tokens > config.max_position_embeddings {
        return Err(CoreError::new(
            ErrorCode::InvalidParameter,
            format!(
                "the longest prompt ({longest} tokens) plus maxNewTokens ({}) exceeds the model's {} positions; shorten the prompt or lower maxNewTokens",
                options.max_new_tokens, config.max_position_embeddings
            ),
        ));
    }
    let mut rows: Vec<Row> = prompts.iter().enumerate().map(|(i, p)| Row::new(p, config.vocab_size, options.seed_of_row(i))).collect();
    if prompts.is_empty() || options.max_new_tokens == 0 {
        return Ok(rows.into_iter().map(|r| r.completion).collect());
    }

    let left_pad: Vec<usize> = prompts.iter().map(|p| longest - p.len()).collect();
    // A prompt repeated in the batch (a GRPO group samples one prompt many times) goes
    // through prefill once; its keys, values and logits are copied to every row with it.
    let (distinct, copy_of) = distinct_prompts(prompts);
    let distinct_prompts: Vec<Vec<u32>> = distinct.iter().map(|&i| prompts[i].clone()).collect();
    let distinct_pad: Vec<usize> = distinct.iter().map(|&i| left_pad[i]).collect();
    let mut cache = KvCache::new(config, distinct.len(), longest + options.max_new_tokens)?;
    let mut logits = prefill(decoder, &distinct_prompts, &distinct_pad, &mut cache)?;
    if distinct.len() < prompts.len() {
        cache.keep_rows(&copy_of)?;
        logits = logits.index_select(&Tensor::from_vec(copy_of.iter().map(|&d| d as u32).collect::<Vec<_>>(), copy_of.len(), &Device::Cpu)?, 0)?;
    }
    // Indices (into `rows`) of the rows in the cache, ascending. Finished rows stay in it
    // (unsampled) until enough of them have finished to make compacting the cache pay.
    let mut in_cache: Vec<usize> = (0..rows.len()).collect();
    let mut pad = left_pad;
    loop {
        let table = logits.to_vec2::<f32>()?;
        let mut slot_of = vec![None; rows.len()];
        in_cache.iter().enumerate().for_each(|(slot, &r)| slot_of[r] = Some(slot));
        rows.par_iter_mut().zip(slot_of).for_each(|(row, slot)| match slot {
            Some(slot) if !row.done => row.step(&table[slot], options),
            _ => {}
        });

        let keep: Vec<usize> = (0..in_cache.len()).filter(|&slot| !rows[in_cache[slot]].done).collect();
        if keep.is_empty() {
            break;
        }
        if 4 * keep.len() <= 3 * in_cache.len() {
            cache.keep_rows(&keep)?;
            in_cache = keep.iter().map(|&slot| in_cache[slot]).collect();
            pad = keep.iter().map(|&slot| pad[slot]).collect();
        }
        let last: Vec<u32> = in_cache.iter().map(|&r| *rows[r].completion.tokens.last().expect("every row took a step")).collect();
        let ids = Tensor::from_vec(last, (in_cache.len(), 1), &Device::Cpu)?;
        let hidden = decoder.forward(&ids, &pad, Some(&mut cache))?;
        logits = decoder.logits(&hidden.squeeze(1)?)?;
    }
    Ok(rows.into_iter().map(|r| r.completion).collect())
}

/// The indices of the batch's distinct prompts (first occurrences, in order), and for each
/// prompt the position of its own in that list.
fn distinct_prompts(prompts: &[Vec<u32>]) -> (Vec<usize>, Vec<usize>) {
    let mut first: std::collections::HashMap<&[u32], usize> = std::collections::HashMap::new();
    let mut distinct = Vec::new();
    let copy_of = prompts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            *first.entry(p.as_slice()).or_insert_with(|| {
                distinct.push(i);
                distinct.len() - 1
            })
        })
        .collect();
    (distinct, copy_of)
}

/// Runs the prompts through the decoder, filling the cache, in column chunks of at most
/// `PREFILL_TOKENS` tokens. Returns the logits [batch, vocab] of each prompt's last token.
fn prefill(decoder: &Decoder, prompts: &[Vec<u32>], left_pad: &[usize], cache: &mut KvCache) -> Result<Tensor> {
    let (batch, width) = (prompts.len(), prompts[0].len() + left_pad[0]);
    let mut ids = vec![0u32; batch * width];
    for (b, p) in prompts.iter().enumerate() {
        ids[b * width + left_pad[b]..(b + 1) * width].copy_from_slice(p);
    }
    let ids = Tensor::from_vec(ids, (batch, width), &Device::Cpu)?;
    let chunk = (PREFILL_TOKENS / batch).max(1);
    let mut start = 0;
    let mut hidden = None;
    while start < width {
        let len = chunk.min(width - start);
        hidden = Some(decoder.forward(&ids.narrow(1, start, len)?, left_pad, Some(cache))?);
        start += len;
    }
    let hidden = hidden.expect("prompts are not empty");
    let last = hidden.dim(1)? - 1;
    decoder.logits(&hidden.narrow(1, last, 1)?.squeeze(1)?)
}

#[cfg(test)]
mod tests;

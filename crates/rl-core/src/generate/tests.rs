//! Generation against the plain decoder: log-probs agree with scoring, seeds reproduce,
//! stop tokens and length limits end rows, finished rows leave the batch cleanly.

use super::*;
use crate::model::tests::{tiny_gpt2, tiny_llama};
use crate::model::{random_weights, Params};
use crate::score::{score, ScoreOptions};

fn decoder(c: &crate::model::ModelConfig) -> Decoder {
    Decoder::new(c, &Params::new(&random_weights(c, 5).unwrap()).unwrap().detached()).unwrap()
}

fn prompts() -> Vec<Vec<u32>> {
    vec![vec![1, 2, 3, 4, 5], vec![9], vec![7, 7, 30], vec![12, 13, 14, 15, 16, 17, 18]]
}

fn options(seed: u64) -> GenerateOptions {
    GenerateOptions { max_new_tokens: 6, sampling: SamplingParams::default(), stop_token_ids: vec![], seed, row_seeds: None }
}

#[test]
fn generated_logprobs_equal_the_scored_logprobs_of_the_same_tokens() {
    for c in [tiny_gpt2(), tiny_llama()] {
        let d = decoder(&c);
        let sampling = SamplingParams { temperature: 0.8, top_k: 10, top_p: 0.9, repetition_penalty: 1.3, ..Default::default() };
        // A stop token some rows hit: they leave the batch while others continue.
        let opts = GenerateOptions { sampling, stop_token_ids: vec![3, 11, 20], ..options(4) };
        let out = generate(&d, &prompts(), &opts).unwrap();
        for (prompt, completion) in prompts().iter().zip(&out) {
            let full: Vec<u32> = prompt.iter().chain(&completion.tokens).copied().collect();
            let scored = score(&d, &[full], &ScoreOptions { start: prompt.len(), temperature: 0.8, entropy: false }).unwrap();
            assert_eq!(scored[0].logprobs.len(), completion.logprobs.len());
            for (a, b) in scored[0].logprobs.iter().zip(&completion.logprobs) {
                assert!((a - b).abs() < 1e-4, "{:?}: scored {a} vs generated {b}", c.architecture);
            }
        }
    }
}

#[test]
fn the_same_seed_gives_the_same_tokens_and_another_seed_others() {
    let d = decoder(&tiny_llama());
    let a = generate(&d, &prompts(), &options(1)).unwrap();
    let b = generate(&d, &prompts(), &options(1)).unwrap();
    let c = generate(&d, &prompts(), &options(2)).unwrap();
    let tokens = |x: &Vec<Completion>| x.iter().map(|r| r.tokens.clone()).collect::<Vec<_>>();
    assert_eq!(tokens(&a), tokens(&b));
    assert_ne!(tokens(&a), tokens(&c));
}

#[test]
fn with_row_seeds_a_row_draws_the_same_tokens_in_any_batch_at_any_position() {
    for c in [tiny_gpt2(), tiny_llama()] {
        let d = decoder(&c);
        // Stop tokens some rows hit, so rows leave the batch at different steps.
        let base = GenerateOptions { stop_token_ids: vec![3, 11, 20], ..options(0) };
        let seeded = |seeds: &[u64]| GenerateOptions { row_seeds: Some(seeds.to_vec()), ..base.clone() };
        let seeds = [101u64, 202, 303, 404];
        let together = generate(&d, &prompts(), &seeded(&seeds)).unwrap();
        // Each prompt alone, and the batch reversed (other neighbours, other padding).
        let reversed: Vec<Vec<u32>> = prompts().into_iter().rev().collect();
        let reversed_seeds: Vec<u64> = seeds.iter().rev().copied().collect();
        let backwards = generate(&d, &reversed, &seeded(&reversed_seeds)).unwrap();
        for (i, prompt) in prompts().iter().enumerate() {
            let alone = generate(&d, &[prompt.clone()], &seeded(&seeds[i..=i])).unwrap();
            assert_eq!(together[i].tokens, alone[0].tokens, "{:?} row {i}: batched vs alone", c.architecture);
            assert_eq!(together[i].tokens, backwards[3 - i].tokens, "{:?} row {i}: position in the batch", c.architecture);
        }
        // The same prompt with two seeds in one batch: two different samples.
        let twice = vec![prompts()[0].clone(), prompts()[0].clone()];
        let two = generate(&d, &twice, &seeded(&[1, 2])).unwrap();
        assert_ne!(two[0].tokens, two[1].tokens);
    }
}

/// A group of rows sharing a prompt (prefilled once, its cache copied to each) samples what
/// each row would alone, log-probs included.
#[test]
fn rows_sharing_a_prompt_sample_as_they_would_alone() {
    for c in [tiny_gpt2(), tiny_llama()] {
        let d = decoder(&c);
        let (a, b) = (prompts()[0].clone(), prompts()[2].clone());
        let grouped = vec![a.clone(), b.clone(), a.clone(), a.clone(), b.clone()];
        let seeds = [5u64, 6, 7, 8, 9];
        let opts = |seeds: &[u64]| GenerateOptions { row_seeds: Some(seeds.to_vec()), stop_token_ids: vec![3, 11], ..options(0) };
        let together = generate(&d, &grouped, &opts(&seeds)).unwrap();
        for (i, prompt) in grouped.iter().enumerate() {
            let alone = &generate(&d, &[prompt.clone()], &opts(&seeds[i..=i])).unwrap()[0];
            assert_eq!(together[i].tokens, alone.tokens, "{:?} row {i}", c.architecture);
            for (x, y) in together[i].logprobs.iter().zip(&alone.logprobs) {
                assert!((x - y).abs() < 1e-5, "{:?} row {i}: {x} vs {y}", c.architecture);
            }
        }
        assert_ne!(together[0].tokens, together[2].tokens, "{:?}: two seeds, one sample", c.architecture);
    }
}

#[test]
fn rows_end_at_a_stop_token_or_at_the_length_limit() {
    let d = decoder(&tiny_gpt2());
    let greedy = GenerateOptions { sampling: SamplingParams { temperature: 0.0, ..Default::default() }, ..options(0) };
    let free = generate(&d, &prompts(), &greedy).unwrap();
    assert!(free.iter().all(|r| r.tokens.len() == 6 && r.finish_reason == FinishReason::Length));
    // Rows 0 and 1 stop on their first greedy token, so half the batch leaves the KV
    // cache after one step; the stop token is kept.
    let stops = vec![free[0].tokens[0], free[1].tokens[0]];
    let stopped = generate(&d, &prompts(), &GenerateOptions { stop_token_ids: stops.clone(), ..greedy.clone() }).unwrap();
    for row in &stopped[..2] {
        assert_eq!((row.tokens.len(), row.finish_reason), (1, FinishReason::Stop));
    }
    // Greedy rows that never meet a stop token are unchanged by the others leaving.
    for (s, f) in stopped.iter().zip(&free).skip(2) {
        match f.tokens.iter().position(|t| stops.contains(t)) {
            Some(p) => assert_eq!(s.tokens, f.tokens[..=p]),
            None => assert_eq!(s.tokens, f.tokens),
        }
    }
}

#[test]
fn bad_requests_are_clear_errors() {
    let c = tiny_gpt2();
    let d = decoder(&c);
    let err = generate(&d, &[vec![]], &options(0)).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidArgument);
    let too_long = GenerateOptions { max_new_tokens: 40, ..options(0) };
    assert_eq!(generate(&d, &prompts(), &too_long).unwrap_err().code, ErrorCode::InvalidParameter);
    let bad_top_p = GenerateOptions { sampling: SamplingParams { top_p: 1.5, ..Default::default() }, ..options(0) };
    assert!(generate(&d, &prompts(), &bad_top_p).unwrap_err().message.contains("topP"));
    let short_seeds = GenerateOptions { row_seeds: Some(vec![1, 2]), ..options(0) };
    let err = generate(&d, &prompts(), &short_seeds).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidParameter);
    assert!(err.message.contains("one seed per prompt"), "{}", err.message);
}

//! GAE's common case (every position an action, no terminal step inside a trajectory),
//! computed so that the recursion's dependency chain does not bound its speed.
//!
//! A_t = delta_t + c A_{t+1} (c = gamma lambda) is one long chain of dependent multiply-adds:
//! about 8 cycles per element without FMA, far slower than memory. The recursion is linear,
//! so a trajectory splits into blocks of `LANES` lanes computed at once from a zero start
//! (independent chains, `LANES` times the throughput), then each lane adds the carry from
//! the lane after it: A_t = local_t + c^(end - t) A_end. All in f64, as the serial form.
//! Large outputs are written a block at a time with streaming stores (see `stream`).

use super::stream::{should_stream, stream_copy, STREAM_CHUNK};

/// Independent chains computed together.
const LANES: usize = 8;
/// The longest lane; a block of `LANES * LANE` f64 locals stays in L1.
const LANE: usize = 128;
const BLOCK: usize = LANES * LANE;
const _: () = assert!(BLOCK == STREAM_CHUNK, "a block is streamed out whole");

/// The dense kernel with its tables, made once per run of trajectories: the powers of c,
/// room for one block's f64 locals, and for its outputs when they are streamed.
pub(super) struct DenseGae {
    gamma: f64,
    c: f64,
    /// c^(LANE - i) at i, so that position i of a lane of length `lane` finds its power
    /// c^(lane - i) at `LANE - lane + i`: ascending, for loops that vectorize.
    falling_powers: [f64; LANE + 1],
    local: [f64; BLOCK],
    /// Outputs go through `staged` and streaming stores (outputs of `output_len` elements).
    streamed: bool,
    staged: ([f32; BLOCK], [f32; BLOCK]),
}

impl DenseGae {
    pub fn new(gamma: f64, lambda: f64, output_len: usize) -> Self {
        let c = gamma * lambda;
        let mut falling_powers = [1f64; LANE + 1];
        for i in (0..LANE).rev() {
            falling_powers[i] = falling_powers[i + 1] * c;
        }
        let streamed = should_stream(output_len);
        DenseGae { gamma, c, falling_powers, local: [0f64; BLOCK], streamed, staged: ([0f32; BLOCK], [0f32; BLOCK]) }
    }

    /// Advantages and returns of one trajectory whose value after its end is `v_t`.
    pub fn run(&mut self, rewards: &[f32], values: &[f32], v_t: f32, adv: &mut [f32], ret: &mut [f32]) {
        // A after the block being computed; 0 past the trajectory's end.
        let mut carry = 0f64;
        let mut end = rewards.len();
        while end > 0 {
            let start = end.saturating_sub(BLOCK);
            // Blocks go backwards, a page per array each, where hardware prefetchers start
            // late: ask for the block before this one while this one is computed.
            let before = start.saturating_sub(BLOCK)..start;
            prefetch(&rewards[before.clone()]);
            prefetch(&values[before]);
            let next_v = if end == rewards.len() { v_t as f64 } else { values[end] as f64 };
            let span = start..end;
            let block = Block { rewards: &rewards[span.clone()], values: &values[span.clone()], next_v, gamma: self.gamma, c: self.c };
            let (local, powers) = (&mut self.local[..end - start], &self.falling_powers);
            if self.streamed {
                let (a, r) = (&mut self.staged.0[..end - start], &mut self.staged.1[..end - start]);
                carry = block.run(carry, powers, local, a, r);
                stream_copy(a, &mut adv[span.clone()]);
                stream_copy(r, &mut ret[span]);
            } else {
                carry = block.run(carry, powers, local, &mut adv[span.clone()], &mut ret[span]);
            }
            end = start;
        }
    }
}

/// Hints the cache to load `data`, one request per 64-byte line.
fn prefetch(data: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    for line in data.chunks(16) {
        // SAFETY: SSE is part of x86_64; a prefetch reads nothing and cannot fault.
        unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(line.as_ptr().cast()) };
    }
}

struct Block<'a> {
    rewards: &'a [f32],
    values: &'a [f32],
    /// The value after the block's last position.
    next_v: f64,
    gamma: f64,
    c: f64,
}

impl Block<'_> {
    /// Fills the block given A just after it; returns A at its first position.
    fn run(&self, carry: f64, falling_powers: &[f64; LANE + 1], local: &mut [f64], adv: &mut [f32], ret: &mut [f32]) -> f64 {
        let (r, v, len) = (self.rewards, self.values, self.rewards.len());
        // delta_t = r_t + gamma V_{t+1} - V_t: no dependency between positions.
        for t in 0..len - 1 {
            local[t] = r[t] as f64 + self.gamma * v[t + 1] as f64 - v[t] as f64;
        }
        local[len - 1] = r[len - 1] as f64 + self.gamma * self.next_v - v[len - 1] as f64;
        // The lanes cover the block's last LANES * lane positions; the first `head` (fewer
        // than LANES) come last, serially.
        let lane = len / LANES;
        let head = len % LANES;
        let mut acc = [0f64; LANES];
        for i in (0..lane).rev() {
            for (j, a) in acc.iter_mut().enumerate() {
                let t = head + j * lane + i;
                *a = local[t] + self.c * *a;
                local[t] = *a;
            }
        }
        let mut carry = carry;
        let powers = &falling_powers[LANE - lane..];
        for j in (0..LANES).rev() {
            let lanes = head + j * lane..head + (j + 1) * lane;
            let (l, v) = (&local[lanes.clone()], &v[lanes.clone()]);
            let (a_out, r_out) = (&mut adv[lanes.clone()], &mut ret[lanes]);
            for i in 0..lane {
                let a = l[i] + powers[i] * carry;
                a_out[i] = a as f32;
                r_out[i] = (a + v[i] as f64) as f32;
            }
            if lane > 0 {
                carry = l[0] + powers[0] * carry;
            }
        }
        for t in (0..head).rev() {
            carry = local[t] + self.c * carry;
            adv[t] = carry as f32;
            ret[t] = (carry + v[t] as f64) as f32;
        }
        carry
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::weights::SplitMix64;

    /// The recursion as ALGORITHMS.md states it, one position at a time.
    fn serial(rewards: &[f32], values: &[f32], v_t: f32, gamma: f64, lambda: f64) -> Vec<f64> {
        let mut adv = vec![0f64; rewards.len()];
        let (mut next_v, mut last) = (v_t as f64, 0f64);
        for t in (0..rewards.len()).rev() {
            last = rewards[t] as f64 + gamma * next_v - values[t] as f64 + gamma * lambda * last;
            adv[t] = last;
            next_v = values[t] as f64;
        }
        adv
    }

    #[test]
    fn blocked_lanes_match_the_serial_recursion_at_every_length() {
        let mut rng = SplitMix64(7);
        let lengths = [1, 2, 7, 8, 9, 15, 16, 17, 127, 128, 129, 1023, 1024, 1025, 3000, 5000];
        for (k, &n) in lengths.iter().enumerate() {
            let rewards: Vec<f32> = (0..n).map(|_| rng.normal()).collect();
            let values: Vec<f32> = (0..n).map(|_| rng.normal()).collect();
            let (gamma, lambda) = [(1.0, 1.0), (0.99, 0.95), (1.0, 0.0), (0.5, 0.9)][k % 4];
            let v_t = rng.normal();
            let (mut adv, mut ret) = (vec![f32::NAN; n], vec![f32::NAN; n]);
            DenseGae::new(gamma, lambda, n).run(&rewards, &values, v_t, &mut adv, &mut ret);
            let expected = serial(&rewards, &values, v_t, gamma, lambda);
            for t in 0..n {
                let scale = expected[t].abs().max(1.0);
                assert!((adv[t] as f64 - expected[t]).abs() <= 1e-6 * scale, "n {n}, t {t}: {} vs {}", adv[t], expected[t]);
                assert!((ret[t] as f64 - (expected[t] + values[t] as f64)).abs() <= 1e-6 * scale.max(values[t].abs() as f64), "n {n}, t {t}");
            }
        }
    }
}

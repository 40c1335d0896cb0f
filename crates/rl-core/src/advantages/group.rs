//! Group-relative advantages for outcome rewards (ALGORITHMS.md section 1).
//!
//! A NaN reward means "missing": the sample is left out of every mean and std and gets
//! advantage 0. A group with fewer than two valid members, or whose valid rewards are all
//! equal, carries no learning signal and gets advantage 0.

use std::collections::HashMap;

use rayon::prelude::*;

use super::layout::check_output;
use super::stream::{should_stream, stream_copy, STREAM_CHUNK};
use crate::error::{check_range, CoreError, ErrorCode, Result};

const PARALLEL_MIN_ELEMENTS: usize = 1 << 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Estimator {
    /// (R - mean_g) / (std_g + eps)
    Grpo,
    /// R - mean_g
    DrGrpo,
    /// R - mean of the other members = G/(G-1) (R - mean_g)
    Rloo,
    /// (R - mean_batch) / (std_batch + eps)
    ReinforcePp,
}

/// What the centered reward is divided by. Standard deviations are sample std (n-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    Group,
    Batch,
    None,
}

impl Estimator {
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "grpo" => Ok(Estimator::Grpo),
            "dr_grpo" => Ok(Estimator::DrGrpo),
            "rloo" => Ok(Estimator::Rloo),
            "reinforce_pp" => Ok(Estimator::ReinforcePp),
            other => Err(CoreError::new(
                ErrorCode::InvalidArgument,
                format!("unknown estimator '{other}'; expected one of 'grpo', 'dr_grpo', 'rloo', 'reinforce_pp'"),
            )),
        }
    }

    /// The scale each estimator uses unless told otherwise.
    pub fn default_scale(self) -> Scale {
        match self {
            Estimator::Grpo => Scale::Group,
            Estimator::DrGrpo | Estimator::Rloo => Scale::None,
            Estimator::ReinforcePp => Scale::Batch,
        }
    }
}

impl Scale {
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "group" => Ok(Scale::Group),
            "batch" => Ok(Scale::Batch),
            "none" => Ok(Scale::None),
            other => Err(CoreError::new(
                ErrorCode::InvalidArgument,
                format!("unknown scale '{other}'; expected one of 'group', 'batch', 'none'"),
            )),
        }
    }
}

pub enum GroupLayout<'a> {
    /// Consecutive groups of this many samples.
    Size(usize),
    /// The group id of each sample (any non-negative integers, in any order).
    Ids(&'a [i32]),
}

pub struct GroupInput<'a> {
    pub rewards: &'a [f32],
    pub layout: GroupLayout<'a>,
    pub estimator: Estimator,
    pub scale: Scale,
    pub eps: f64,
}

/// Statistics of the valid (non-NaN) rewards of one group or of the batch.
#[derive(Debug, Clone, Copy, Default)]
struct Stats {
    count: usize,
    mean: f64,
    std: f64,
    all_equal: bool,
}

/// Count, mean, sample std and the exact all-equal test of the valid rewards of a slice.
/// Groups are small and this runs once per group, so the common case (no missing reward)
/// has its own branch-free path.
#[inline(always)]
fn stats_of(rewards: &[f32]) -> Stats {
    if rewards.iter().any(|r| r.is_nan()) {
        stats_with_missing(rewards)
    } else {
        stats_of_valid(rewards)
    }
}

#[cold]
#[inline(never)]
fn stats_with_missing(rewards: &[f32]) -> Stats {
    let valid: Vec<f32> = rewards.iter().copied().filter(|r| !r.is_nan()).collect();
    stats_of_valid(&valid)
}

#[inline(always)]
fn stats_of_valid(rewards: &[f32]) -> Stats {
    let count = rewards.len();
    if count == 0 {
        return Stats { count, mean: 0.0, std: 0.0, all_equal: true };
    }
    let (sum, sum_sq) = sums(rewards);
    let mean = sum / count as f64;
    // f64 sums of f32 inputs: the shortcut (sum_sq - sum * mean) loses nothing at f32 output.
    let var = if count > 1 { ((sum_sq - sum * mean) / (count - 1) as f64).max(0.0) } else { 0.0 };
    let all_equal = rewards.iter().all(|&r| r == rewards[0]);
    Stats { count, mean, std: var.sqrt(), all_equal }
}

/// Sum and sum of squares in f64, over four independent accumulator lanes so that the adds
/// do not wait on each other.
#[inline(always)]
fn sums(values: &[f32]) -> (f64, f64) {
    let (mut s, mut q) = ([0f64; 4], [0f64; 4]);
    let chunks = values.chunks_exact(4);
    let tail = chunks.remainder();
    for c in chunks {
        for k in 0..4 {
            let x = c[k] as f64;
            s[k] += x;
            q[k] += x * x;
        }
    }
    for (k, &r) in tail.iter().enumerate() {
        let x = r as f64;
        s[k] += x;
        q[k] += x * x;
    }
    ((s[0] + s[1]) + (s[2] + s[3]), (q[0] + q[1]) + (q[2] + q[3]))
}

struct Plan {
    estimator: Estimator,
    scale: Scale,
    eps: f64,
    batch: Stats,
}

impl Plan {
    /// The map R -> (R - baseline) * scale of one group's valid samples, or `None` when
    /// the group carries no learning signal (advantage 0).
    #[inline(always)]
    fn affine(&self, group: &Stats) -> Option<(f64, f64)> {
        let (baseline, mut scale) = match self.estimator {
            Estimator::ReinforcePp if self.batch.count >= 2 && !self.batch.all_equal => (self.batch.mean, 1.0),
            Estimator::Grpo | Estimator::DrGrpo if group.count >= 2 && !group.all_equal => (group.mean, 1.0),
            Estimator::Rloo if group.count >= 2 && !group.all_equal => {
                (group.mean, group.count as f64 / (group.count - 1) as f64)
            }
            _ => return None,
        };
        scale /= match self.scale {
            Scale::Group => group.std + self.eps,
            Scale::Batch => self.batch.std + self.eps,
            Scale::None => 1.0,
        };
        Some((baseline, scale))
    }

    /// `affine` for a batch of full groups (`count` valid rewards, not all equal, so
    /// `count` >= 2) from their sums, with the same operations, in loops that vectorize.
    /// Returns false when these groups carry no signal.
    #[inline(always)]
    fn full_group_maps(&self, count: usize, sum: &[f64], sum_sq: &[f64], baseline: &mut [f64], scale: &mut [f64]) -> bool {
        let n = count as f64;
        // As in `stats_of_valid`: the mean, then the sample variance (held in `scale`).
        for (((b, v), &s), &q) in baseline.iter_mut().zip(scale.iter_mut()).zip(sum).zip(sum_sq) {
            *b = s / n;
            *v = ((q - s * *b) / (n - 1.0)).max(0.0);
        }
        let numerator = if self.estimator == Estimator::Rloo { n / (n - 1.0) } else { 1.0 };
        match self.scale {
            Scale::Group => scale.iter_mut().for_each(|v| *v = numerator / (v.sqrt() + self.eps)),
            Scale::Batch => scale.fill(numerator / (self.batch.std + self.eps)),
            Scale::None => scale.fill(numerator / 1.0),
        }
        if self.estimator == Estimator::ReinforcePp {
            if self.batch.count < 2 || self.batch.all_equal {
                return false;
            }
            baseline.fill(self.batch.mean);
        }
        true
    }

    #[inline(always)]
    fn fill(&self, rewards: &[f32], group: &Stats, out: &mut [f32]) {
        fill_affine(rewards, self.affine(group), group.count == rewards.len(), out);
    }
}

/// Writes a group's advantages given its affine map (`None`: no signal, all 0);
/// `all_valid` when none of its rewards is missing.
#[inline(always)]
fn fill_affine(rewards: &[f32], affine: Option<(f64, f64)>, all_valid: bool, out: &mut [f32]) {
    match affine {
        Some((baseline, scale)) if all_valid => {
            for (o, &r) in out.iter_mut().zip(rewards) {
                *o = ((r as f64 - baseline) * scale) as f32;
            }
        }
        Some((baseline, scale)) => {
            for (o, &r) in out.iter_mut().zip(rewards) {
                *o = if r.is_nan() { 0.0 } else { ((r as f64 - baseline) * scale) as f32 };
            }
        }
        None => out.fill(0.0),
    }
}

pub fn group_advantages(input: &GroupInput) -> Result<Vec<f32>> {
    let mut out = vec![0f32; input.rewards.len()];
    group_advantages_into(input, &mut out)?;
    Ok(out)
}

/// `group_advantages` into a buffer the caller owns (one element per reward), allocating
/// no output.
pub fn group_advantages_into(input: &GroupInput, out: &mut [f32]) -> Result<()> {
    check_range("eps", input.eps, 0.0, f64::MAX)?;
    let rewards = input.rewards;
    check_output("out", out.len(), rewards.len())?;
    let needs_batch = input.scale == Scale::Batch || input.estimator == Estimator::ReinforcePp;
    let batch = if needs_batch { stats_of(rewards) } else { Stats::default() };
    let plan = Plan { estimator: input.estimator, scale: input.scale, eps: input.eps, batch };
    match input.layout {
        GroupLayout::Size(size) => by_size(rewards, size, &plan, out),
        GroupLayout::Ids(ids) => by_ids(rewards, ids, &plan, out),
    }
}

fn by_size(rewards: &[f32], size: usize, plan: &Plan, out: &mut [f32]) -> Result<()> {
    if size == 0 || rewards.len() % size != 0 {
        return Err(CoreError::new(
            ErrorCode::InvalidGroups,
            format!(
                "groupSize {size} does not divide the batch of {} rewards; pass groups of equal size back to back, or groupIds for ragged groups",
                rewards.len()
            ),
        ));
    }
    let streamed = should_stream(out.len());
    if rewards.len() >= PARALLEL_MIN_ELEMENTS && rayon::current_num_threads() > 1 {
        let per_task = size * (PARALLEL_MIN_ELEMENTS / 16 / size).max(1);
        rewards
            .par_chunks(per_task)
            .zip(out.par_chunks_mut(per_task))
            .for_each(|(r, d)| fill_groups_out(r, d, size, plan, streamed));
    } else {
        fill_groups_out(rewards, out, size, plan, streamed);
    }
    Ok(())
}

/// `fill_groups` into `out`, through a block in cache and streaming stores when the whole
/// output is large (see `stream`).
fn fill_groups_out(rewards: &[f32], out: &mut [f32], size: usize, plan: &Plan, streamed: bool) {
    if !streamed || size > STREAM_CHUNK {
        return fill_groups(rewards, out, size, plan);
    }
    let per_block = size * (STREAM_CHUNK / size);
    let mut staged = [0f32; STREAM_CHUNK];
    for (r, o) in rewards.chunks(per_block).zip(out.chunks_mut(per_block)) {
        let staged = &mut staged[..r.len()];
        fill_groups(r, staged, size, plan);
        stream_copy(staged, o);
    }
}

/// Fills consecutive groups of `size`. The usual group sizes get a copy of the loop compiled
/// for that size, whose per-group loops unroll completely (several times faster at G = 8).
fn fill_groups(rewards: &[f32], out: &mut [f32], size: usize, plan: &Plan) {
    match size {
        2 => fill_fixed::<2>(rewards, out, plan),
        4 => fill_fixed::<4>(rewards, out, plan),
        8 => fill_fixed::<8>(rewards, out, plan),
        16 => fill_fixed::<16>(rewards, out, plan),
        _ => rewards.chunks(size).zip(out.chunks_mut(size)).for_each(|(r, o)| plan.fill(r, &stats_of(r), o)),
    }
}

/// Groups whose statistics are computed together: in separate passes over a batch, in
/// loops without branches, the divisions and square roots of different groups pair up in
/// vector instructions and overlap instead of each group waiting on its own.
const BATCH: usize = 64;

fn fill_fixed<const G: usize>(rewards: &[f32], out: &mut [f32], plan: &Plan) {
    let as_group = |r: &[f32]| -> [f32; G] { r.try_into().expect("chunks_exact yields G elements") };
    let (mut sum, mut sum_sq) = ([0f64; BATCH], [0f64; BATCH]);
    let (mut baseline, mut scale) = ([0f64; BATCH], [0f64; BATCH]);
    // Groups with a missing reward, or all rewards equal, take the general per-group path.
    let mut general = [false; BATCH];
    for (r, o) in rewards.chunks(G * BATCH).zip(out.chunks_mut(G * BATCH)) {
        let groups = r.len() / G;
        for (g, group) in r.chunks_exact(G).enumerate() {
            let group = as_group(group);
            (sum[g], sum_sq[g]) = sums(&group);
            // A NaN (or infinite) reward makes the f64 sum non-finite; no early exit, so the
            // comparison vectorizes.
            general[g] = !sum[g].is_finite() | group.iter().fold(true, |equal, &x| equal & (x == group[0]));
        }
        let signal = plan.full_group_maps(G, &sum[..groups], &sum_sq[..groups], &mut baseline[..groups], &mut scale[..groups]);
        for (g, (group, o)) in r.chunks_exact(G).zip(o.chunks_exact_mut(G)).enumerate() {
            let group = as_group(group);
            let o: &mut [f32; G] = o.try_into().expect("chunks_exact yields G elements");
            if general[g] {
                plan.fill(&group, &stats_of(&group), o);
            } else {
                fill_affine(&group, signal.then_some((baseline[g], scale[g])), true, o);
            }
        }
    }
}

fn by_ids(rewards: &[f32], ids: &[i32], plan: &Plan, out: &mut [f32]) -> Result<()> {
    crate::error::check_len("groupIds", ids.len(), "rewards", rewards.len())?;
    if let Some((i, id)) = ids.iter().enumerate().find(|(_, id)| **id < 0) {
        return Err(CoreError::new(
            ErrorCode::InvalidGroups,
            format!("groupIds[{i}] is negative ({id}); group ids must be non-negative integers"),
        ));
    }
    // Dense group index for each sample, in order of first appearance.
    let mut dense_of: HashMap<i32, usize> = HashMap::new();
    let dense: Vec<usize> = ids
        .iter()
        .map(|id| {
            let next = dense_of.len();
            *dense_of.entry(*id).or_insert(next)
        })
        .collect();
    let groups = dense_of.len();
    let mut members: Vec<Vec<f32>> = vec![Vec::new(); groups];
    for (&g, &r) in dense.iter().zip(rewards) {
        members[g].push(r);
    }
    let stats: Vec<Stats> = members.iter().map(|m| stats_of(m)).collect();
    let affine: Vec<Option<(f64, f64)>> = stats.iter().map(|s| plan.affine(s)).collect();
    for ((o, &r), &g) in out.iter_mut().zip(rewards).zip(&dense) {
        *o = match affine[g] {
            Some((baseline, scale)) if !r.is_nan() => ((r as f64 - baseline) * scale) as f32,
            _ => 0.0,
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(rewards: &[f32], estimator: Estimator) -> Vec<f32> {
        let input = GroupInput { rewards, layout: GroupLayout::Size(rewards.len()), estimator, scale: estimator.default_scale(), eps: 1e-4 };
        group_advantages(&input).unwrap()
    }

    fn close(a: &[f32], b: &[f32]) {
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-5, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn section_7_vectors() {
        let r = [1.0, 0.0, 0.0, 1.0];
        close(&run(&r, Estimator::Grpo), &[0.865875, -0.865875, -0.865875, 0.865875]);
        close(&run(&r, Estimator::DrGrpo), &[0.5, -0.5, -0.5, 0.5]);
        close(&run(&r, Estimator::Rloo), &[0.666667, -0.666667, -0.666667, 0.666667]);
        for e in [Estimator::Grpo, Estimator::DrGrpo, Estimator::Rloo, Estimator::ReinforcePp] {
            assert_eq!(run(&[0.5, 0.5, 0.5], e), vec![0.0, 0.0, 0.0]);
        }
    }

    #[test]
    fn missing_rewards_are_left_out() {
        let with_nan = run(&[1.0, f32::NAN, 0.0, 0.0, 1.0], Estimator::Grpo);
        assert_eq!(with_nan[1], 0.0);
        close(&[with_nan[0], with_nan[2], with_nan[3], with_nan[4]], &[0.865875, -0.865875, -0.865875, 0.865875]);
    }

    #[test]
    fn ids_match_sizes() {
        let r = [1.0, 0.0, 3.0, 0.0, 2.0, 5.0];
        let by_size = group_advantages(&GroupInput { rewards: &r, layout: GroupLayout::Size(3), estimator: Estimator::Grpo, scale: Scale::Group, eps: 1e-4 }).unwrap();
        let ids = [7, 7, 7, 2, 2, 2];
        let by_ids = group_advantages(&GroupInput { rewards: &r, layout: GroupLayout::Ids(&ids), estimator: Estimator::Grpo, scale: Scale::Group, eps: 1e-4 }).unwrap();
        assert_eq!(by_size, by_ids);
    }

    #[test]
    fn group_size_must_divide_batch() {
        let err = group_advantages(&GroupInput { rewards: &[1.0; 5], layout: GroupLayout::Size(2), estimator: Estimator::Grpo, scale: Scale::Group, eps: 1e-4 }).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidGroups);
    }

    #[test]
    fn large_batched_and_streamed_groups_match_each_group_alone() {
        // Over the streaming threshold; missing rewards, all-equal groups and infinities
        // take the general path inside batches of full groups.
        let n = 8 * 150_001;
        let mut rewards: Vec<f32> = (0..n).map(|i| ((i * 7919) % 13) as f32 / 4.0).collect();
        rewards[8 * 5 + 3] = f32::NAN;
        rewards[8 * 70_000..8 * 70_001].fill(0.5);
        rewards[8 * 99_999 + 1] = f32::INFINITY;
        for (estimator, scale) in [(Estimator::Grpo, Scale::Group), (Estimator::Rloo, Scale::Batch), (Estimator::ReinforcePp, Scale::Batch), (Estimator::DrGrpo, Scale::None)] {
            let all = group_advantages(&GroupInput { rewards: &rewards, layout: GroupLayout::Size(8), estimator, scale, eps: 1e-4 }).unwrap();
            let batch = stats_of(&rewards);
            let plan = Plan { estimator, scale, eps: 1e-4, batch };
            for g in (0..n / 8).step_by(997).chain([5, 70_000, 99_999]) {
                let group = &rewards[8 * g..8 * g + 8];
                let mut alone = [0f32; 8];
                plan.fill(group, &stats_of(group), &mut alone);
                let got = &all[8 * g..8 * g + 8];
                assert!(got.iter().zip(&alone).all(|(a, b)| a.to_bits() == b.to_bits()), "{estimator:?} group {g}: {got:?} vs {alone:?}");
            }
        }
    }
}

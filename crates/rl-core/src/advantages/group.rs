//! Group-relative advantages for outcome rewards (ALGORITHMS.md section 1).
//!
//! A NaN reward means "missing": the sample is left out of every mean and std and gets
//! advantage 0. A group with fewer than two valid members, or whose valid rewards are all
//! equal, carries no learning signal and gets advantage 0.

use std::collections::HashMap;

use rayon::prelude::*;

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

fn stats_of<'a>(rewards: impl Iterator<Item = &'a f32> + Clone) -> Stats {
    let (mut count, mut sum) = (0usize, 0f64);
    let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
    for &r in rewards.clone() {
        if !r.is_nan() {
            count += 1;
            sum += r as f64;
            lo = lo.min(r);
            hi = hi.max(r);
        }
    }
    if count == 0 {
        return Stats { count, mean: 0.0, std: 0.0, all_equal: true };
    }
    let mean = sum / count as f64;
    let sq: f64 = rewards.filter(|r| !r.is_nan()).map(|&r| (r as f64 - mean).powi(2)).sum();
    let std = if count > 1 { (sq / (count - 1) as f64).sqrt() } else { 0.0 };
    Stats { count, mean, std, all_equal: lo == hi }
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

    fn fill(&self, rewards: &[f32], group: &Stats, out: &mut [f32]) {
        match self.affine(group) {
            Some((baseline, scale)) => {
                for (o, &r) in out.iter_mut().zip(rewards) {
                    *o = if r.is_nan() { 0.0 } else { ((r as f64 - baseline) * scale) as f32 };
                }
            }
            None => out.fill(0.0),
        }
    }
}

pub fn group_advantages(input: &GroupInput) -> Result<Vec<f32>> {
    check_range("eps", input.eps, 0.0, f64::MAX)?;
    let rewards = input.rewards;
    let needs_batch = input.scale == Scale::Batch || input.estimator == Estimator::ReinforcePp;
    let batch = if needs_batch { stats_of(rewards.iter()) } else { Stats::default() };
    let plan = Plan { estimator: input.estimator, scale: input.scale, eps: input.eps, batch };
    match input.layout {
        GroupLayout::Size(size) => by_size(rewards, size, &plan),
        GroupLayout::Ids(ids) => by_ids(rewards, ids, &plan),
    }
}

fn by_size(rewards: &[f32], size: usize, plan: &Plan) -> Result<Vec<f32>> {
    if size == 0 || rewards.len() % size != 0 {
        return Err(CoreError::new(
            ErrorCode::InvalidGroups,
            format!(
                "groupSize {size} does not divide the batch of {} rewards; pass groups of equal size back to back, or groupIds for ragged groups",
                rewards.len()
            ),
        ));
    }
    let mut out = crate::buffer::zeroed_f32(rewards.len());
    let fill = |(group, dst): (&[f32], &mut [f32])| plan.fill(group, &stats_of(group.iter()), dst);
    if rewards.len() >= PARALLEL_MIN_ELEMENTS {
        let per_task = size * (PARALLEL_MIN_ELEMENTS / 16 / size).max(1);
        rewards.par_chunks(per_task).zip(out.par_chunks_mut(per_task)).for_each(|(r, d)| {
            r.chunks(size).zip(d.chunks_mut(size)).for_each(fill);
        });
    } else {
        rewards.chunks(size).zip(out.chunks_mut(size)).for_each(fill);
    }
    Ok(out)
}

fn by_ids(rewards: &[f32], ids: &[i32], plan: &Plan) -> Result<Vec<f32>> {
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
    let stats: Vec<Stats> = members.iter().map(|m| stats_of(m.iter())).collect();
    let affine: Vec<Option<(f64, f64)>> = stats.iter().map(|s| plan.affine(s)).collect();
    Ok(rewards
        .iter()
        .zip(&dense)
        .map(|(&r, &g)| match affine[g] {
            Some((baseline, scale)) if !r.is_nan() => ((r as f64 - baseline) * scale) as f32,
            _ => 0.0,
        })
        .collect())
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
}

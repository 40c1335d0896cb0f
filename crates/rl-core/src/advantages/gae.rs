//! Generalized Advantage Estimation over many trajectories in one flat buffer
//! (ALGORITHMS.md section 2).

use rayon::prelude::*;

use super::gae_dense::DenseGae;
use super::layout::{balanced_runs, check_output, split_by_bounds, validate_offsets};
use super::whiten::whiten_in_place;
use crate::error::{check_len, check_range, CoreError, ErrorCode, Result};

/// Below this many elements the work stays on the calling thread.
const PARALLEL_MIN_ELEMENTS: usize = 1 << 16;

pub struct GaeInput<'a> {
    pub rewards: &'a [f32],
    pub values: &'a [f32],
    /// 1 where the episode terminated at this step (no bootstrapping across it).
    pub dones: Option<&'a [u8]>,
    /// 1 on action positions; 0 positions carry the next value and running advantage through.
    pub mask: Option<&'a [u8]>,
    /// n+1 trajectory boundaries; `None` means one trajectory.
    pub offsets: Option<&'a [i32]>,
    /// V_T for each trajectory cut off by a length limit (0 for terminal ones).
    pub bootstrap: Option<&'a [f32]>,
    pub gamma: f64,
    pub lambda: f64,
    /// Whiten the advantages over masked positions (returns are computed before).
    pub whiten: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GaeOutput {
    pub advantages: Vec<f32>,
    pub returns: Vec<f32>,
}

pub fn compute_gae(input: &GaeInput) -> Result<GaeOutput> {
    let len = input.rewards.len();
    let (mut advantages, mut returns) = (vec![0f32; len], vec![0f32; len]);
    compute_gae_into(input, &mut advantages, &mut returns)?;
    Ok(GaeOutput { advantages, returns })
}

/// `compute_gae` into buffers the caller owns (one element per reward), allocating
/// nothing: at millions of elements, faulting in fresh output pages costs more than the
/// recursion itself.
pub fn compute_gae_into(input: &GaeInput, advantages: &mut [f32], returns: &mut [f32]) -> Result<()> {
    let len = input.rewards.len();
    check_output("out.advantages", advantages.len(), len)?;
    check_output("out.returns", returns.len(), len)?;
    check_len("values", input.values.len(), "rewards", len)?;
    if let Some(d) = input.dones {
        check_len("dones", d.len(), "rewards", len)?;
    }
    if let Some(m) = input.mask {
        check_len("mask", m.len(), "rewards", len)?;
    }
    check_range("gamma", input.gamma, 0.0, 1.0)?;
    check_range("lambda", input.lambda, 0.0, 1.0)?;
    let offsets: Vec<usize> = match input.offsets {
        Some(o) => {
            validate_offsets(o, len)?;
            o.iter().map(|&v| v as usize).collect()
        }
        None => vec![0, len],
    };
    let n = offsets.len() - 1;
    if let Some(b) = input.bootstrap {
        if b.len() != n {
            return Err(CoreError::new(
                ErrorCode::LengthMismatch,
                format!("bootstrap has length {} but there are {n} trajectories; give one V_T per trajectory (0 for terminal ones)", b.len()),
            ));
        }
    }

    let threads = if len >= PARALLEL_MIN_ELEMENTS { rayon::current_num_threads() } else { 1 };
    if threads <= 1 || n == 1 {
        gae_run(input, &offsets, 0, n, advantages, returns);
    } else {
        let runs = balanced_runs(&offsets, threads * 4);
        let bounds: Vec<usize> = runs.iter().map(|&k| offsets[k]).collect();
        let adv_parts = split_by_bounds(advantages, &bounds);
        let ret_parts = split_by_bounds(returns, &bounds);
        adv_parts
            .into_par_iter()
            .zip(ret_parts)
            .zip(runs.par_windows(2))
            .for_each(|((adv, ret), w)| gae_run(input, &offsets, w[0], w[1], adv, ret));
    }
    if input.whiten {
        whiten_in_place(advantages, input.mask);
    }
    Ok(())
}

/// Runs the backward recursion for trajectories `first..last`; `adv` and `ret` start at
/// element `offsets[first]`.
fn gae_run(input: &GaeInput, offsets: &[usize], first: usize, last: usize, adv: &mut [f32], ret: &mut [f32]) {
    let base = offsets[first];
    let mut dense = DenseGae::new(input.gamma, input.lambda, input.rewards.len());
    for k in first..last {
        let (start, end) = (offsets[k], offsets[k + 1]);
        let v_t = input.bootstrap.map_or(0.0, |b| b[k]);
        let span = start..end;
        let local = (start - base)..(end - base);
        let rewards = &input.rewards[span.clone()];
        let values = &input.values[span.clone()];
        let (a, r) = (&mut adv[local.clone()], &mut ret[local]);
        match (input.dones, input.mask) {
            (None, None) => dense.run(rewards, values, v_t, a, r),
            (dones, mask) => gae_general(
                rewards,
                values,
                dones.map(|d| &d[span.clone()]),
                mask.map(|m| &m[span.clone()]),
                v_t,
                input.gamma,
                input.lambda,
                a,
                r,
            ),
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn gae_general(
    rewards: &[f32],
    values: &[f32],
    dones: Option<&[u8]>,
    mask: Option<&[u8]>,
    v_t: f32,
    gamma: f64,
    lambda: f64,
    adv: &mut [f32],
    ret: &mut [f32],
) {
    let mut next_v = v_t as f64;
    let mut last = 0f64;
    for t in (0..rewards.len()).rev() {
        let v = values[t] as f64;
        if mask.map_or(true, |m| m[t] != 0) {
            let not_done = if dones.map_or(false, |d| d[t] != 0) { 0.0 } else { 1.0 };
            let delta = rewards[t] as f64 + gamma * next_v * not_done - v;
            last = delta + gamma * lambda * not_done * last;
            next_v = v;
        }
        adv[t] = last as f32;
        ret[t] = (last + v) as f32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f32], b: &[f32]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-5, "{a:?} vs {b:?}");
        }
    }

    fn input<'a>(r: &'a [f32], v: &'a [f32]) -> GaeInput<'a> {
        GaeInput { rewards: r, values: v, dones: None, mask: None, offsets: None, bootstrap: None, gamma: 0.99, lambda: 0.95, whiten: false }
    }

    const R: [f32; 4] = [0.0, 0.0, 0.0, 1.0];
    const V: [f32; 4] = [0.5, 0.6, 0.7, 0.8];

    #[test]
    fn terminal_vector() {
        let out = compute_gae(&input(&R, &V)).unwrap();
        close(&out.advantages, &[0.429226, 0.356434, 0.2801, 0.2]);
        close(&out.returns, &[0.929226, 0.956434, 0.9801, 1.0]);
    }

    #[test]
    fn bootstrap_vector() {
        let b = [0.9f32];
        let out = compute_gae(&GaeInput { bootstrap: Some(&b), ..input(&R, &V) }).unwrap();
        close(&out.advantages, &[1.170458, 1.144559, 1.118086, 1.091]);
    }

    #[test]
    fn masked_vector() {
        let m = [1u8, 1, 0, 1];
        let out = compute_gae(&GaeInput { mask: Some(&m), ..input(&R, &V) }).unwrap();
        close(&out.advantages, &[0.451484, 0.3801, 0.2, 0.2]);
    }

    #[test]
    fn offsets_make_trajectories_independent() {
        let r2 = [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0];
        let v2 = [0.5, 0.6, 0.7, 0.8, 0.5, 0.6, 0.7, 0.8];
        let o = [0, 4, 8];
        let out = compute_gae(&GaeInput { offsets: Some(&o), ..input(&r2, &v2) }).unwrap();
        close(&out.advantages[4..], &[0.429226, 0.356434, 0.2801, 0.2]);
        close(&out.advantages[..4], &[0.429226, 0.356434, 0.2801, 0.2]);
    }

    #[test]
    fn rejects_bad_input() {
        let bad_gamma = compute_gae(&GaeInput { gamma: f64::NAN, ..input(&R, &V) }).unwrap_err();
        assert_eq!(bad_gamma.code, ErrorCode::InvalidParameter);
        let o = [0, -1, 4];
        let bad_offsets = compute_gae(&GaeInput { offsets: Some(&o), ..input(&R, &V) }).unwrap_err();
        assert_eq!(bad_offsets.code, ErrorCode::InvalidOffsets);
        let short = compute_gae(&input(&R, &V[..3])).unwrap_err();
        assert_eq!(short.code, ErrorCode::LengthMismatch);
    }

    #[test]
    fn large_streamed_outputs_at_any_alignment_match_per_trajectory_runs() {
        // Over the streaming threshold, into buffers that start off 16-byte alignment.
        let n = 1_200_003;
        let rewards: Vec<f32> = (0..n).map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0).collect();
        let values: Vec<f32> = (0..n).map(|i| ((i * 104_729) % 997) as f32 / 997.0).collect();
        let offsets: Vec<i32> = (0..n).step_by(3001).chain([n]).map(|o| o as i32).collect();
        let whole = GaeInput { offsets: Some(&offsets), ..input(&rewards, &values) };
        let (mut adv, mut ret) = (vec![f32::NAN; n + 1], vec![f32::NAN; n + 3]);
        compute_gae_into(&whole, &mut adv[1..], &mut ret[3..]).unwrap();
        assert!(adv[0].is_nan() && ret[..3].iter().all(|x| x.is_nan()), "nothing is written before the buffers");
        for w in offsets.windows(2).step_by(37) {
            let (s, e) = (w[0] as usize, w[1] as usize);
            let one = compute_gae(&input(&rewards[s..e], &values[s..e])).unwrap();
            assert_eq!(&adv[1 + s..1 + e], &one.advantages[..], "trajectory at {s}");
            assert_eq!(&ret[3 + s..3 + e], &one.returns[..], "trajectory at {s}");
        }
    }
}

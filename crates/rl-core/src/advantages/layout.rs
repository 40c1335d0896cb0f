//! Validation and splitting of `offsets`, the n+1 boundaries of n trajectories.

use crate::error::{CoreError, ErrorCode, Result};

/// Checks that `offsets` partitions a buffer of `len` elements: it starts at 0, ends at
/// `len`, and never decreases.
pub fn validate_offsets(offsets: &[i32], len: usize) -> Result<()> {
    let bad = |what: String| {
        Err(CoreError::new(
            ErrorCode::InvalidOffsets,
            format!("offsets {what}; offsets must hold n+1 non-decreasing boundaries from 0 to the buffer length ({len})"),
        ))
    };
    if offsets.is_empty() {
        return bad("is empty".into());
    }
    if let Some((i, v)) = offsets.iter().enumerate().find(|(_, v)| **v < 0) {
        return bad(format!("[{i}] is negative ({v})"));
    }
    if offsets[0] != 0 {
        return bad(format!("[0] is {} instead of 0", offsets[0]));
    }
    let last = *offsets.last().unwrap() as usize;
    if last != len {
        return bad(format!("[{}] is {last} instead of {len}", offsets.len() - 1));
    }
    if let Some(i) = (1..offsets.len()).find(|&i| offsets[i] < offsets[i - 1]) {
        return bad(format!("decrease at index {i} ({} after {})", offsets[i], offsets[i - 1]));
    }
    Ok(())
}

/// An output buffer the caller provides must hold exactly one element per input element.
pub(crate) fn check_output(name: &str, len: usize, expected: usize) -> Result<()> {
    if len == expected {
        return Ok(());
    }
    Err(CoreError::new(
        ErrorCode::InvalidArgument,
        format!("{name} has length {len} but the input has {expected} elements; give a Float32Array of the input's length"),
    ))
}

/// Splits `data` into the consecutive pieces `[bounds[k], bounds[k+1])`.
pub(crate) fn split_by_bounds<'a, T>(mut data: &'a mut [T], bounds: &[usize]) -> Vec<&'a mut [T]> {
    let mut pieces = Vec::with_capacity(bounds.len().saturating_sub(1));
    for w in bounds.windows(2) {
        let (head, tail) = data.split_at_mut(w[1] - w[0]);
        pieces.push(head);
        data = tail;
    }
    pieces
}

/// Groups trajectories into about `parts` contiguous runs of similar element count, so
/// that each run can be processed on its own thread. Returns trajectory indices.
pub(crate) fn balanced_runs(offsets: &[usize], parts: usize) -> Vec<usize> {
    let n = offsets.len() - 1;
    let total = offsets[n];
    let parts = parts.max(1);
    let mut cuts = vec![0];
    let mut next_target = total / parts;
    for k in 1..n {
        if offsets[k] >= next_target && offsets[k] > offsets[*cuts.last().unwrap()] {
            cuts.push(k);
            next_target = offsets[k] + total / parts;
        }
    }
    cuts.push(n);
    cuts
}

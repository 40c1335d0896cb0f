//! Hardware ceilings measured in the same run as a benchmark, so model timings can be
//! reported as fractions of what this machine can do.

use std::time::Instant;

use candle_core::{Device, Tensor};
use rayon::prelude::*;

use crate::error::Result;

fn best_seconds(reps: usize, mut run: impl FnMut() -> Result<()>) -> Result<f64> {
    let mut best = f64::INFINITY;
    for _ in 0..reps.max(1) {
        let start = Instant::now();
        run()?;
        best = best.min(start.elapsed().as_secs_f64());
    }
    Ok(best)
}

/// GFLOP/s of an n x n by n x n f32 matrix product through candle (the same gemm the
/// decoders use), best of `reps`.
pub fn matmul_gflops(n: usize, reps: usize) -> Result<f64> {
    let a = Tensor::randn(0f32, 1.0, (n, n), &Device::Cpu)?;
    let b = Tensor::randn(0f32, 1.0, (n, n), &Device::Cpu)?;
    let seconds = best_seconds(reps, || {
        a.matmul(&b)?;
        Ok(())
    })?;
    Ok(2.0 * (n as f64).powi(3) / seconds / 1e9)
}

/// GB/s of a multi-threaded copy of `bytes` bytes, counting bytes read plus bytes
/// written, best of `reps`: the rate at which weights can stream through the cores.
pub fn copy_gbps(bytes: usize, reps: usize) -> Result<f64> {
    let src = vec![1f32; bytes / 4];
    let mut dst = vec![0f32; bytes / 4];
    let chunk = 1 << 18;
    let seconds = best_seconds(reps, || {
        dst.par_chunks_mut(chunk).zip(src.par_chunks(chunk)).for_each(|(d, s)| d.copy_from_slice(s));
        Ok(())
    })?;
    Ok(2.0 * (src.len() * 4) as f64 / seconds / 1e9)
}

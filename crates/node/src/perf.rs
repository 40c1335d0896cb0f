//! Bindings of `rl_core::perf`: machine ceilings for the benchmarks.

use napi_derive::napi;

use crate::errors::to_napi;

#[napi(catch_unwind)]
pub fn matmul_gflops(n: u32, reps: u32) -> napi::Result<f64> {
    rl_core::perf::matmul_gflops(n as usize, reps as usize).map_err(to_napi)
}

#[napi(catch_unwind)]
pub fn copy_gbps(bytes: f64, reps: u32) -> napi::Result<f64> {
    rl_core::perf::copy_gbps(bytes as usize, reps as usize).map_err(to_napi)
}

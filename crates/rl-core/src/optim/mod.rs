//! Optimization: AdamW over candle `Var`s with a decay mask by weight kind, global-norm
//! gradient clipping, learning-rate schedules, and exact save / restore of the state.

mod adamw;
mod clip;
mod fused;
#[cfg(test)]
mod fused_tests;
mod moments;
mod schedule;
mod state;
#[cfg(test)]
mod tests;

pub use adamw::{AdamW, AdamWConfig, Param, StepReport};
pub use clip::{clip_factor, clip_grad_norm, global_grad_norm};
pub use schedule::{LrSchedule, ScheduleKind};
pub use state::{STATE_JSON, STATE_TENSORS};

use crate::error::{CoreError, ErrorCode};

/// A tensor operation failed (a shape or device mismatch between a gradient and its
/// parameter, or a device error): report where.
fn tensor_error(what: &str) -> impl Fn(candle_core::Error) -> CoreError + '_ {
    move |e| CoreError::new(ErrorCode::InvalidArgument, format!("{what} failed: {e}"))
}

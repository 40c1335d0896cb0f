//! Bindings of `rl_core::optim` that JavaScript needs without a model: the learning-rate
//! schedule, which the trainer logs.

use napi_derive::napi;
use rl_core::optim as core;

use crate::errors::to_napi;

/// Every field filled: `src/algorithms/schedule.ts` applies the defaults.
#[napi(object)]
pub struct LrScheduleConfig {
    pub kind: String,
    pub lr: f64,
    pub warmup_steps: u32,
    pub total_steps: u32,
    pub min_lr_ratio: f64,
}

#[napi(catch_unwind)]
pub fn learning_rate(schedule: LrScheduleConfig, step: u32) -> napi::Result<f64> {
    let schedule = core::LrSchedule {
        kind: core::ScheduleKind::parse(&schedule.kind).map_err(to_napi)?,
        lr: schedule.lr,
        warmup_steps: schedule.warmup_steps as u64,
        total_steps: schedule.total_steps as u64,
        min_lr_ratio: schedule.min_lr_ratio,
    };
    schedule.validate().map_err(to_napi)?;
    Ok(schedule.lr(step as u64))
}

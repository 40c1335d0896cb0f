//! Learning-rate schedules: constant, linear or cosine decay, each after a linear warmup.

use crate::error::{check_range, CoreError, ErrorCode, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleKind {
    Constant,
    Linear,
    Cosine,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LrSchedule {
    pub kind: ScheduleKind,
    /// The peak learning rate, reached at the end of warmup.
    pub lr: f64,
    pub warmup_steps: u64,
    /// Where linear and cosine decay end (at `lr * min_lr_ratio`); unused by constant.
    pub total_steps: u64,
    pub min_lr_ratio: f64,
}

impl ScheduleKind {
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "constant" => Ok(ScheduleKind::Constant),
            "linear" => Ok(ScheduleKind::Linear),
            "cosine" => Ok(ScheduleKind::Cosine),
            other => Err(CoreError::new(
                ErrorCode::InvalidArgument,
                format!("unknown schedule '{other}'; expected one of 'constant', 'linear', 'cosine'"),
            )),
        }
    }
}

impl LrSchedule {
    pub fn validate(&self) -> Result<()> {
        check_range("lr", self.lr, 0.0, 1e3)?;
        check_range("minLrRatio", self.min_lr_ratio, 0.0, 1.0)?;
        if self.kind != ScheduleKind::Constant && self.total_steps <= self.warmup_steps {
            return Err(CoreError::new(
                ErrorCode::InvalidParameter,
                format!(
                    "totalSteps ({}) must exceed warmupSteps ({}) for a decaying schedule; set totalSteps to the number of optimizer steps of the run",
                    self.total_steps, self.warmup_steps
                ),
            ));
        }
        Ok(())
    }

    /// The learning rate of update number `step` (0-based). Warmup rises linearly from
    /// lr / (W + 1) at step 0 to lr at step W, so that no update is wasted at rate 0; decay
    /// then runs from lr at step W to lr * min_lr_ratio at `total_steps` and stays there.
    pub fn lr(&self, step: u64) -> f64 {
        let w = self.warmup_steps;
        if step < w {
            return self.lr * (step + 1) as f64 / (w + 1) as f64;
        }
        let floor = self.lr * self.min_lr_ratio;
        let progress = ((step - w) as f64 / self.total_steps.saturating_sub(w).max(1) as f64).min(1.0);
        match self.kind {
            ScheduleKind::Constant => self.lr,
            ScheduleKind::Linear => floor + (self.lr - floor) * (1.0 - progress),
            ScheduleKind::Cosine => floor + (self.lr - floor) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(kind: ScheduleKind) -> LrSchedule {
        LrSchedule { kind, lr: 1e-3, warmup_steps: 4, total_steps: 14, min_lr_ratio: 0.1 }
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-15, "{a} vs {b}");
    }

    #[test]
    fn warmup_is_shared_and_never_zero() {
        for kind in [ScheduleKind::Constant, ScheduleKind::Linear, ScheduleKind::Cosine] {
            let s = schedule(kind);
            close(s.lr(0), 2e-4);
            close(s.lr(3), 8e-4);
            close(s.lr(4), 1e-3);
        }
    }

    #[test]
    fn values_at_key_steps() {
        let constant = schedule(ScheduleKind::Constant);
        close(constant.lr(9), 1e-3);
        close(constant.lr(1000), 1e-3);
        let linear = schedule(ScheduleKind::Linear);
        close(linear.lr(9), 1e-4 + 9e-4 * 0.5);
        close(linear.lr(14), 1e-4);
        close(linear.lr(100), 1e-4);
        let cosine = schedule(ScheduleKind::Cosine);
        close(cosine.lr(9), 1e-4 + 9e-4 * 0.5);
        close(cosine.lr(14), 1e-4);
        // A quarter of the way: 0.5 * (1 + cos(pi / 4)).
        let quarter = LrSchedule { warmup_steps: 0, total_steps: 8, min_lr_ratio: 0.0, ..cosine };
        close(quarter.lr(2), 1e-3 * 0.5 * (1.0 + std::f64::consts::FRAC_1_SQRT_2));
    }

    #[test]
    fn rejects_bad_schedules() {
        let short = LrSchedule { total_steps: 4, ..schedule(ScheduleKind::Cosine) };
        assert_eq!(short.validate().unwrap_err().code, ErrorCode::InvalidParameter);
        assert!(LrSchedule { total_steps: 0, ..schedule(ScheduleKind::Constant) }.validate().is_ok());
        assert!(LrSchedule { lr: f64::NAN, ..schedule(ScheduleKind::Constant) }.validate().is_err());
        assert_eq!(ScheduleKind::parse("step").unwrap_err().code, ErrorCode::InvalidArgument);
    }
}

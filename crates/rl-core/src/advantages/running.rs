//! Running mean and variance (Welford), mergeable across workers (Chan et al.'s
//! parallel update), for reward normalization over a whole run.

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RunningMeanStd {
    pub count: f64,
    pub mean: f64,
    /// Sum of squared deviations from the mean.
    pub m2: f64,
}

impl RunningMeanStd {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds every finite value; NaN and infinities are skipped (they mean "missing").
    pub fn update(&mut self, values: &[f32]) {
        for &v in values {
            if v.is_finite() {
                self.count += 1.0;
                let delta = v as f64 - self.mean;
                self.mean += delta / self.count;
                self.m2 += delta * (v as f64 - self.mean);
            }
        }
    }

    /// Combines the statistics of another stream into this one.
    pub fn merge(&mut self, other: &RunningMeanStd) {
        if other.count == 0.0 {
            return;
        }
        let count = self.count + other.count;
        let delta = other.mean - self.mean;
        self.mean += delta * other.count / count;
        self.m2 += other.m2 + delta * delta * self.count * other.count / count;
        self.count = count;
    }

    /// Population variance (divide by n); 0 before any value.
    pub fn variance(&self) -> f64 {
        if self.count > 0.0 { self.m2 / self.count } else { 0.0 }
    }

    /// Sample variance (divide by n-1); 0 with fewer than two values.
    pub fn sample_variance(&self) -> f64 {
        if self.count > 1.0 { self.m2 / (self.count - 1.0) } else { 0.0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_equals_single_stream() {
        let data: Vec<f32> = (0..100).map(|i| ((i * 37) % 11) as f32 * 0.5).collect();
        let mut whole = RunningMeanStd::new();
        whole.update(&data);
        let (mut a, mut b) = (RunningMeanStd::new(), RunningMeanStd::new());
        a.update(&data[..33]);
        b.update(&data[33..]);
        a.merge(&b);
        assert!((a.mean - whole.mean).abs() < 1e-12);
        assert!((a.variance() - whole.variance()).abs() < 1e-10);
        assert_eq!(a.count, 100.0);
    }
}

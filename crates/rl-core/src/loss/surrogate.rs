//! The clipped surrogate of one token (or one sequence, for GSPO), with its derivative.

/// Which branch of the clipped objective a term took. In the clipped surrogate every branch
/// but `Unclipped` has a zero gradient; in CISPO a clipped branch only bounds the weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Region {
    Unclipped,
    /// A < 0 and ratio < 1 - eps_low.
    ClippedLow,
    /// A > 0 and ratio > 1 + eps_high.
    ClippedHigh,
    /// A < 0 and ratio > c (dual-clip).
    DualClipped,
}

pub struct Surrogate {
    /// -min(r * A, clip(r, 1 - eps_low, 1 + eps_high) * A), capped at -A * c by dual-clip.
    pub loss: f64,
    /// d loss / d log r.
    pub dloss_dlog_ratio: f64,
    pub region: Region,
}

pub struct ClipRange {
    pub eps_low: f64,
    pub eps_high: f64,
    pub dual_clip: Option<f64>,
}

/// For A >= 0 the objective is A * min(r, 1 + eps_high); for A < 0 it is
/// A * max(r, 1 - eps_low), and dual-clip bounds the loss by -A * c once r > c.
pub fn clipped_surrogate(ratio: f64, advantage: f64, clip: &ClipRange) -> Surrogate {
    let unclipped = Surrogate { loss: -advantage * ratio, dloss_dlog_ratio: -advantage * ratio, region: Region::Unclipped };
    let flat = |bound: f64, region| Surrogate { loss: -advantage * bound, dloss_dlog_ratio: 0.0, region };
    if advantage > 0.0 {
        let high = 1.0 + clip.eps_high;
        return if ratio > high { flat(high, Region::ClippedHigh) } else { unclipped };
    }
    if advantage < 0.0 {
        if let Some(c) = clip.dual_clip.filter(|&c| ratio > c) {
            return flat(c, Region::DualClipped);
        }
        let low = 1.0 - clip.eps_low;
        return if ratio < low { flat(low, Region::ClippedLow) } else { unclipped };
    }
    unclipped
}

#[cfg(test)]
mod tests {
    use super::*;

    const PPO: ClipRange = ClipRange { eps_low: 0.2, eps_high: 0.2, dual_clip: Some(3.0) };

    #[test]
    fn branches() {
        let s = clipped_surrogate(1.1, 2.0, &PPO);
        assert_eq!((s.loss, s.dloss_dlog_ratio, s.region), (-2.2, -2.2, Region::Unclipped));
        let s = clipped_surrogate(1.5, 2.0, &PPO);
        assert_eq!((s.loss, s.dloss_dlog_ratio, s.region), (-2.4, 0.0, Region::ClippedHigh));
        let s = clipped_surrogate(0.5, -1.0, &PPO);
        assert_eq!((s.loss, s.dloss_dlog_ratio, s.region), (0.8, 0.0, Region::ClippedLow));
        // A > 0 with a small ratio and A < 0 with a large one stay unclipped (pessimistic bound).
        assert_eq!(clipped_surrogate(0.5, 1.0, &PPO).region, Region::Unclipped);
        assert_eq!(clipped_surrogate(2.0, -1.0, &PPO).region, Region::Unclipped);
    }

    #[test]
    fn dual_clip_vector() {
        let s = clipped_surrogate(5.0, -1.0, &PPO);
        assert_eq!((s.loss, s.dloss_dlog_ratio, s.region), (3.0, 0.0, Region::DualClipped));
    }
}

//! CISPO (MiniMax-M1): the importance weight of each token is clipped and held constant
//! (stop-gradient), and weights the REINFORCE term A * log p. Unlike the clipped surrogate,
//! no token ever loses its gradient; clipping only bounds how much one token can weigh.
//!
//! ```text
//! l_t = -sg(clip(r_t, 1 - eps_low, 1 + eps_high)) * A_t * logp_t
//! d l_t / d logp_t = -clip(r_t, 1 - eps_low, 1 + eps_high) * A_t
//! ```

use super::surrogate::Region;

/// The clipped, stop-gradient importance weight of one token, and which bound (if any) it hit.
pub fn cispo_weight(ratio: f64, eps_low: f64, eps_high: f64) -> (f64, Region) {
    let (low, high) = (1.0 - eps_low, 1.0 + eps_high);
    if ratio > high {
        (high, Region::ClippedHigh)
    } else if ratio < low {
        (low, Region::ClippedLow)
    } else {
        (ratio, Region::Unclipped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clips_from_either_side_and_never_below_zero_with_the_defaults() {
        assert_eq!(cispo_weight(1.1, 0.2, 0.2), (1.1, Region::Unclipped));
        assert_eq!(cispo_weight(1.5, 0.2, 0.2), (1.2, Region::ClippedHigh));
        assert_eq!(cispo_weight(0.5, 0.2, 0.2).1, Region::ClippedLow);
        // eps_low 1 puts the lower bound at 0, which no ratio reaches (MiniMax-M1's choice).
        assert_eq!(cispo_weight(1e-9, 1.0, 3.0), (1e-9, Region::Unclipped));
        assert_eq!(cispo_weight(6.0, 1.0, 3.0), (4.0, Region::ClippedHigh));
    }
}

//! The float types the kernels run in (f32 for training, f64 for gradient checks) and the
//! vector primitives their inner loops are made of.
//!
//! The primitives are plain loops over slices or fixed-size blocks, which the compiler
//! turns into SIMD code (the kernels call them from functions compiled for AVX2 + FMA).

use std::ops::{Add, AddAssign, Mul, Sub};

pub trait Real: Copy + Send + Sync + PartialOrd + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + AddAssign + 'static {
    const ZERO: Self;
    const ONE: Self;
    const NEG_INFINITY: Self;
    fn exp(self) -> Self;
    fn ln(self) -> Self;
    fn recip(self) -> Self;
    fn from_f64(x: f64) -> Self;
    fn max(self, other: Self) -> Self;
    /// exp of every element of a block, in place.
    fn exp_block(x: &mut Block<Self>);
}

macro_rules! real {
    ($t:ty, $exp:expr) => {
        impl Real for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const NEG_INFINITY: Self = <$t>::NEG_INFINITY;
            #[inline(always)]
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            #[inline(always)]
            fn ln(self) -> Self {
                <$t>::ln(self)
            }
            #[inline(always)]
            fn recip(self) -> Self {
                1.0 / self
            }
            #[inline(always)]
            fn from_f64(x: f64) -> Self {
                x as $t
            }
            #[inline(always)]
            fn max(self, other: Self) -> Self {
                <$t>::max(self, other)
            }
            #[inline(always)]
            fn exp_block(x: &mut Block<Self>) {
                for x in x.iter_mut() {
                    *x = $exp(*x);
                }
            }
        }
    };
}
real!(f32, exp_f32);
// f64 runs the gradient checks, where accuracy matters more than speed.
real!(f64, f64::exp);

/// y *= alpha.
#[inline(always)]
pub fn scale<T: Real>(y: &mut [T], alpha: T) {
    for y in y.iter_mut() {
        *y = *y * alpha;
    }
}

/// Keys handled together by the attention kernels: their scores stay in SIMD registers.
pub const BLOCK: usize = 32;

pub type Block<T> = [T; BLOCK];

/// acc += a * row, over one block.
#[inline(always)]
pub fn fma_block<T: Real>(acc: &mut Block<T>, a: T, row: &Block<T>) {
    for (acc, &x) in acc.iter_mut().zip(row) {
        *acc += a * x;
    }
}

/// exp(x) of f32 by range reduction x = n ln2 + r, |r| <= ln2 / 2, and a degree-6
/// polynomial of r (Cephes' expf): within 2 ulp, and a loop the compiler vectorizes, where
/// the library's expf is a call per element. Below -87 (where expf underflows) it gives 0,
/// so masked scores (-inf) have no weight at all.
#[inline(always)]
#[allow(clippy::excessive_precision)] // Cephes' coefficients as published
pub(crate) fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split in two so that n * LN2_HI is exact.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding and subtracting 1.5 * 2^23 rounds to the nearest integer.
    const ROUND: f32 = 12_582_912.0;
    let clamped = x.clamp(-87.0, 88.0);
    let n = (clamped * LOG2E + ROUND) - ROUND;
    let r = clamped - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_1e-4_f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 5.000_000_1e-1;
    let y = p * r * r + r + 1.0;
    let scale = f32::from_bits(((n as i32 + 127) as u32) << 23);
    if x < -87.0 {
        0.0
    } else {
        y * scale
    }
}

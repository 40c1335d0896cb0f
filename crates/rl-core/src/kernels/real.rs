//! The float types the kernels run in (f32 for training, f64 for gradient checks) and the
//! vector primitives their inner loops are made of.
//!
//! The primitives keep several independent partial sums so that the compiler can put them
//! in SIMD lanes: a plain `sum()` over products is a single dependency chain it may not
//! reorder.

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
}

macro_rules! real {
    ($t:ty) => {
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
        }
    };
}
real!(f32);
real!(f64);

/// Independent partial sums of `dot`: two 8-lane f32 registers (or four 4-lane ones).
const LANES: usize = 16;

/// sum_i a[i] * b[i] over `a.len()` elements.
#[inline(always)]
pub fn dot<T: Real>(a: &[T], b: &[T]) -> T {
    let b = &b[..a.len()];
    let mut partial = [T::ZERO; LANES];
    let (mut ca, mut cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    for (x, y) in (&mut ca).zip(&mut cb) {
        for l in 0..LANES {
            partial[l] += x[l] * y[l];
        }
    }
    let mut sum = T::ZERO;
    for (&x, &y) in ca.remainder().iter().zip(cb.remainder()) {
        sum += x * y;
    }
    // Pairwise, to keep the reduction short.
    let mut width = LANES;
    while width > 1 {
        width /= 2;
        for l in 0..width {
            partial[l] = partial[l] + partial[l + width];
        }
    }
    sum + partial[0]
}

/// y += alpha * x.
#[inline(always)]
pub fn axpy<T: Real>(y: &mut [T], alpha: T, x: &[T]) {
    let x = &x[..y.len()];
    for (y, &x) in y.iter_mut().zip(x) {
        *y += alpha * x;
    }
}

/// y *= alpha.
#[inline(always)]
pub fn scale<T: Real>(y: &mut [T], alpha: T) {
    for y in y.iter_mut() {
        *y = *y * alpha;
    }
}

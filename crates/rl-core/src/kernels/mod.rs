//! Hand-written compute kernels over plain slices, for the hot spots of the training path
//! where composing tensor ops wastes time or memory.
//!
//! Each kernel is one file with a narrow interface (shapes, slices, strides): the CPU
//! implementation lives here, and a GPU one could sit beside it behind the same signature.
//! The candle glue (custom ops with their backward) lives with the model code that uses it.

pub mod decode_attention;
pub mod flash_attention;
mod real;
pub mod skinny;
pub mod softmax;

pub use real::Real;

/// Whether this CPU runs the kernels' AVX2 + FMA builds (checked once).
#[cfg(target_arch = "x86_64")]
pub(crate) fn simd_available() -> bool {
    use std::sync::OnceLock;
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"))
}

#[cfg(not(target_arch = "x86_64"))]
pub(crate) fn simd_available() -> bool {
    false
}

/// Whether this CPU runs the kernels' AVX-512 builds (checked once).
#[cfg(target_arch = "x86_64")]
pub(crate) fn avx512_available() -> bool {
    use std::sync::OnceLock;
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| is_x86_feature_detected!("avx512f"))
}

#[cfg(not(target_arch = "x86_64"))]
pub(crate) fn avx512_available() -> bool {
    false
}

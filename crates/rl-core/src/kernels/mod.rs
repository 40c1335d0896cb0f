//! Hand-written compute kernels over plain slices, for the hot spots of the training path
//! where composing tensor ops wastes time or memory.
//!
//! Each kernel is one file with a narrow interface (shapes, slices, strides): the CPU
//! implementation lives here, and a GPU one could sit beside it behind the same signature.
//! The candle glue (custom ops with their backward) lives with the model code that uses it.

pub mod flash_attention;
mod real;

pub use real::Real;

//! The layer-wise engine: a hand-written forward and backward for the decoder block on flat
//! f32 buffers (the structure of llm.c's train_gpt2.c, with packed GEMMs and flash
//! attention), in place of candle's op-by-op autograd on the training path (`train`), and
//! the passes without a graph on the same kernels (`infer`: generation's prefill and decode
//! steps over a KV cache, scoring). Candle keeps the weights (I/O, the optimizer) and stays
//! the reference the engine is tested against (tests.rs, infer_tests.rs).
//!
//! Kernel layer: `matmul` (gemm, and kernels::skinny for a few rows), `ops` (norms, rotary
//! positions, SwiGLU/GELU, head-major copies) and the attention kernels
//! (kernels::flash_attention, kernels::decode_attention); the model code above them
//! (`llama`, `gpt2`) sees only slices, so another implementation of the kernels can sit
//! beside them.

pub(crate) mod copies;
mod ends;
mod gpt2;
mod head;
pub(crate) mod infer;
mod linear;
mod llama;
pub(crate) mod matmul;
mod ops;
mod shape;
pub(crate) mod weights;
pub(crate) mod train;

pub(crate) use shape::{rotary_frequencies, Positions};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod infer_tests;

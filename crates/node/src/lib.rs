//! napi-rs bindings of `rl-core`: type conversion and error mapping only.
//!
//! Every function is marked `catch_unwind` so that a Rust panic becomes a JavaScript
//! error instead of aborting the Node process.

mod advantages;
mod errors;
mod io;
mod loss;
mod model;
mod optim;
mod perf;
mod train;

// Training allocates and frees many tensors of a few MB per step; glibc's malloc keeps the
// freed ones in per-thread arenas, so the process held about 3x its live memory (3.6 GB
// resident for 1.2 GB live on the demo model's SFT step). mimalloc reuses and returns them
// at the same speed.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

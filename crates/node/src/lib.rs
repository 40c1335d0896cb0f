//! napi-rs bindings of `rl-core`: type conversion and error mapping only.
//!
//! Every function is marked `catch_unwind` so that a Rust panic becomes a JavaScript
//! error instead of aborting the Node process.

mod advantages;
mod allocator;
mod critic;
mod errors;
mod export;
mod io;
mod loss;
mod model;
mod optim;
mod perf;
mod train;

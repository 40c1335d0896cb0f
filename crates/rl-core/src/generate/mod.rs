//! Batched sampling from a decoder with a KV cache.

pub mod kv_cache;

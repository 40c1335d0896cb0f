//! The layout of a micro-batch through the layer-wise engine, shared by the decoders:
//! `batch` right-padded rows of `time` tokens, flattened to [batch * time, features]; token t
//! of every row sits at position t and sees keys 0..=t.

use crate::kernels::flash_attention::{Dims, KeySpan, Strided};
use crate::model::{Architecture, ModelConfig};

use super::ops::rope;

/// Sizes of a micro-batch through the model.
#[derive(Clone, Copy)]
pub(crate) struct Shape {
    pub batch: usize,
    pub time: usize,
    pub hidden: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub intermediate: usize,
    pub eps: f64,
}

impl Shape {
    pub fn new(config: &ModelConfig, batch: usize, time: usize) -> Self {
        Shape {
            batch,
            time,
            hidden: config.hidden_size,
            heads: config.num_heads,
            kv_heads: config.num_kv_heads,
            head_dim: config.head_dim,
            intermediate: config.intermediate_size,
            eps: config.norm_eps,
        }
    }

    pub fn rows(&self) -> usize {
        self.batch * self.time
    }

    pub fn q_width(&self) -> usize {
        self.heads * self.head_dim
    }

    pub fn kv_width(&self) -> usize {
        self.kv_heads * self.head_dim
    }

    pub fn dims(&self) -> Dims {
        Dims { batch: self.batch, heads: self.heads, kv_heads: self.kv_heads, queries: self.time, keys: self.time, head_dim: self.head_dim }
    }

    /// Keys or values as the flash kernel reads them: token-major [rows, kv_heads * d].
    pub fn kv<'a>(&self, data: &'a [f32]) -> Strided<'a, f32> {
        Strided { data, offset: 0, strides: [self.time * self.kv_width(), self.head_dim, self.kv_width()] }
    }
}

/// What the blocks share: each row's position, the rotation of its position, and the keys
/// it attends to.
pub(crate) struct Positions {
    /// cos and sin of each row's rotation angles, [rows, head_dim / 2].
    cos: Vec<f32>,
    sin: Vec<f32>,
    pub of_row: Vec<u32>,
    pub spans: Vec<KeySpan>,
}

impl Positions {
    /// A training micro-batch: token t of every row at position t, seeing keys 0..=t.
    /// `inverse_frequencies` of the rotary positions; none for a model that learns its
    /// positions (GPT-2), which reads only each row's position and the spans.
    pub fn new(shape: Shape, inverse_frequencies: &[f64]) -> Self {
        let of_row = (0..shape.rows()).map(|r| (r % shape.time) as u32).collect();
        let spans = (0..shape.rows()).map(|r| KeySpan { start: 0, end: (r % shape.time) as u32 + 1 }).collect();
        Positions::of_rows(of_row, spans, inverse_frequencies)
    }

    /// Rows at the given positions, seeing the given keys (a pass after a KV cache).
    pub fn of_rows(of_row: Vec<u32>, spans: Vec<KeySpan>, inverse_frequencies: &[f64]) -> Self {
        let inv = inverse_frequencies;
        let angles = |g: fn(f64) -> f64| of_row.iter().flat_map(|&p| inv.iter().map(move |f| g(p as f64 * f) as f32)).collect::<Vec<f32>>();
        Positions { cos: angles(f64::cos), sin: angles(f64::sin), of_row, spans }
    }

    pub fn rotate(&self, x: &mut [f32], heads: usize, head_dim: usize, inverse: bool) {
        rope(x, heads, head_dim, &self.cos, &self.sin, inverse);
    }
}

/// The rotary frequencies of a Llama; GPT-2 learns its positions instead.
pub(crate) fn rotary_frequencies(config: &ModelConfig) -> Vec<f64> {
    match config.architecture {
        Architecture::Llama => crate::model::llama::inverse_frequencies(config),
        Architecture::Gpt2 => Vec::new(),
    }
}

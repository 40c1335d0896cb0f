//! One type over both architectures, and what every forward pass needs besides the
//! weights: where each token sits (positions, padding) and what it may attend to.

use std::sync::{Arc, OnceLock};

use candle_core::{DType, Device, Tensor};

use super::gpt2::Gpt2;
use super::layers::linear;
use super::llama::Llama;
use super::{validate_weights, Architecture, ModelConfig, Weights};
use crate::error::{CoreError, ErrorCode, Result};
use crate::generate::kv_cache::KvCache;
use crate::kernels::flash_attention::KeySpan;

pub enum Decoder {
    Gpt2(Gpt2),
    Llama(Llama),
}

/// Positions and attention mask of one forward pass over `batch` rows of `time` new
/// columns, after `offset` columns already in the KV cache.
pub struct Context {
    /// [batch, time] u32: the position of each new token inside its own sequence.
    pub positions: Tensor,
    /// The keys `[start, end)` each (row, new token) attends to, row-major.
    pub key_spans: Arc<Vec<KeySpan>>,
    /// `mask()`, made on first use: only the composed attention (a decode step) reads it.
    mask: OnceLock<Tensor>,
    keys: usize,
    dtype: DType,
}

impl Context {
    /// Rows may be left-padded: `left_pad[b]` leading columns of row `b` are not tokens.
    /// A token attends to the tokens of its row at or before it; a padding column attends
    /// only to itself (its output is never used, but must stay finite).
    pub fn new(left_pad: &[usize], offset: usize, time: usize, max_positions: usize, dtype: DType) -> Result<Self> {
        let (batch, keys) = (left_pad.len(), offset + time);
        let mut positions = Vec::with_capacity(batch * time);
        let mut key_spans = Vec::with_capacity(batch * time);
        for &pad in left_pad {
            for i in 0..time {
                let column = offset + i;
                positions.push(column.saturating_sub(pad) as u32);
                key_spans.push(KeySpan { start: pad.min(column) as u32, end: column as u32 + 1 });
            }
        }
        let longest = left_pad.iter().map(|&p| keys.saturating_sub(p)).max().unwrap_or(0);
        if longest > max_positions {
            return Err(CoreError::new(
                ErrorCode::InvalidParameter,
                format!("a sequence of {longest} tokens is longer than the model's {max_positions} positions; shorten the input or lower maxNewTokens"),
            ));
        }
        Ok(Context {
            positions: Tensor::from_vec(positions, (batch, time), &Device::Cpu)?,
            key_spans: Arc::new(key_spans),
            mask: OnceLock::new(),
            keys,
            dtype,
        })
    }

    /// The key spans as an additive mask [batch, time, offset + time]: 0 where a query may
    /// attend, -inf where not.
    pub fn mask(&self) -> Result<&Tensor> {
        if let Some(mask) = self.mask.get() {
            return Ok(mask);
        }
        let (batch, time) = self.positions.dims2()?;
        let mut mask = Vec::with_capacity(batch * time * self.keys);
        for span in self.key_spans.iter() {
            mask.extend((0..self.keys as u32).map(|j| if (span.start..span.end).contains(&j) { 0.0 } else { f32::NEG_INFINITY }));
        }
        let mask = Tensor::from_vec(mask, (batch, time, self.keys), &Device::Cpu)?.to_dtype(self.dtype)?;
        Ok(self.mask.get_or_init(|| mask))
    }
}

impl Decoder {
    /// Builds the decoder over `weights`. Weights that are `Var`s (or derived from them)
    /// make every forward pass differentiable; detached weights make it inference-only.
    pub fn new(config: &ModelConfig, weights: &Weights) -> Result<Self> {
        validate_weights(config, weights, "the model weights")?;
        Ok(match config.architecture {
            Architecture::Gpt2 => Decoder::Gpt2(Gpt2::new(config, weights)?),
            Architecture::Llama => Decoder::Llama(Llama::new(config, weights)?),
        })
    }

    pub fn config(&self) -> &ModelConfig {
        match self {
            Decoder::Gpt2(m) => &m.config,
            Decoder::Llama(m) => &m.config,
        }
    }

    /// Final hidden states [batch, time, hidden] of `ids` ([batch, time] u32, rows
    /// left-padded by `left_pad`). With a cache, the new columns follow the cached ones
    /// and their keys and values are appended to it.
    pub fn forward(&self, ids: &Tensor, left_pad: &[usize], mut cache: Option<&mut KvCache>) -> Result<Tensor> {
        let (batch, time) = ids.dims2()?;
        if batch != left_pad.len() {
            return Err(CoreError::new(ErrorCode::Compute, format!("{batch} rows but {} paddings", left_pad.len())));
        }
        let offset = cache.as_ref().map_or(0, |c| c.len());
        let ctx = Context::new(left_pad, offset, time, self.config().max_position_embeddings, self.dtype())?;
        let hidden = match self {
            Decoder::Gpt2(m) => m.forward(ids, &ctx, cache.as_deref())?,
            Decoder::Llama(m) => m.forward(ids, &ctx, cache.as_deref())?,
        };
        if let Some(c) = cache.as_mut() {
            c.advance(time);
        }
        Ok(hidden)
    }

    /// The pieces of `forward` without a cache, for passes that keep only each block's
    /// input and recompute the block in the backward (activation checkpointing).
    pub fn layers(&self) -> usize {
        self.config().num_layers
    }

    pub fn embed(&self, ids: &Tensor, ctx: &Context) -> Result<Tensor> {
        match self {
            Decoder::Gpt2(m) => m.embed(ids, ctx),
            Decoder::Llama(m) => m.embed(ids),
        }
    }

    pub fn block(&self, layer: usize, x: &Tensor, ctx: &Context) -> Result<Tensor> {
        match self {
            Decoder::Gpt2(m) => m.block(layer, x, ctx, None),
            Decoder::Llama(m) => m.block(layer, x, ctx, None),
        }
    }

    pub fn final_norm(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Decoder::Gpt2(m) => m.final_norm(x),
            Decoder::Llama(m) => m.final_norm(x),
        }
    }

    /// The floating-point type of the weights (f32; f64 in gradient checks).
    pub fn dtype(&self) -> DType {
        match self {
            Decoder::Gpt2(m) => m.lm_head.dtype(),
            Decoder::Llama(m) => m.lm_head.dtype(),
        }
    }

    /// The output projection: [rows, hidden] (or [..., hidden]) -> logits [rows, vocab].
    pub fn logits(&self, hidden: &Tensor) -> Result<Tensor> {
        linear(hidden, self.lm_head(), None)
    }

    /// The output projection's weight [vocab, hidden] (the token embedding when tied).
    pub fn lm_head(&self) -> &Tensor {
        match self {
            Decoder::Gpt2(m) => &m.lm_head,
            Decoder::Llama(m) => &m.lm_head,
        }
    }
}

/// Looks up one tensor by name (its presence was checked by `validate_weights`).
pub(super) fn weight(weights: &Weights, name: &str) -> Result<Tensor> {
    weights
        .get(name)
        .cloned()
        .ok_or_else(|| CoreError::new(ErrorCode::InvalidModel, format!("the model weights have no tensor '{name}'")))
}

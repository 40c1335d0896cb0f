//! One type over both architectures, and what every forward pass needs besides the
//! weights: where each token sits (positions, padding) and what it may attend to.

use std::sync::{Arc, Mutex, OnceLock};

use candle_core::{DType, Device, Tensor};

use super::gpt2::Gpt2;
use super::layers::{linear, reference_path};
use super::llama::Llama;
use super::{validate_weights, Architecture, ModelConfig, Weights};
use crate::error::{CoreError, ErrorCode, Result};
use crate::generate::kv_cache::KvCache;
use crate::kernels::flash_attention::KeySpan;
use crate::layerwise::copies::{in_out_copies, reads_copies, InOutCopies};
use crate::layerwise::infer;
use crate::layerwise::weights::EngineTensors;
use crate::layerwise::{rotary_frequencies, Positions};

pub struct Decoder {
    model: Model,
    /// The weights in the layer-wise engine's order, when passes with a KV cache and the
    /// logits run on it: f32 weights that build no graph (generation and scoring). The rest
    /// (training's reference, f64) is candle's.
    engine: Option<EngineTensors>,
    /// The layer-wise engine's [in, out] copies of the matrices, made when a decode step
    /// first needs them and dropped by `weights_changed`.
    copies: Mutex<Option<Arc<InOutCopies>>>,
    weight_bytes: usize,
}

enum Model {
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
    /// Rows may be left-padded, as `token_layout` lays them out.
    pub fn new(left_pad: &[usize], offset: usize, time: usize, max_positions: usize, dtype: DType) -> Result<Self> {
        let batch = left_pad.len();
        let (positions, key_spans) = token_layout(left_pad, offset, time, max_positions)?;
        Ok(Context {
            positions: Tensor::from_vec(positions, (batch, time), &Device::Cpu)?,
            key_spans: Arc::new(key_spans),
            mask: OnceLock::new(),
            keys: offset + time,
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

/// Each new token's position inside its own sequence and the keys `[start, end)` it attends
/// to, row-major: rows may be left-padded (`left_pad[b]` leading columns of row `b` are not
/// tokens); a token attends to the tokens of its row at or before it; a padding column
/// attends only to itself (its output is never used, but must stay finite).
pub(crate) fn token_layout(left_pad: &[usize], offset: usize, time: usize, max_positions: usize) -> Result<(Vec<u32>, Vec<KeySpan>)> {
    let keys = offset + time;
    let mut positions = Vec::with_capacity(left_pad.len() * time);
    let mut key_spans = Vec::with_capacity(left_pad.len() * time);
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
    Ok((positions, key_spans))
}

impl Decoder {
    /// Builds the decoder over `weights`. Weights that are `Var`s (or derived from them)
    /// make every forward pass differentiable; detached weights make it inference-only.
    pub fn new(config: &ModelConfig, weights: &Weights) -> Result<Self> {
        validate_weights(config, weights, "the model weights")?;
        let model = match config.architecture {
            Architecture::Gpt2 => Model::Gpt2(Gpt2::new(config, weights)?),
            Architecture::Llama => Model::Llama(Llama::new(config, weights)?),
        };
        let layerwise = weights.values().all(|w| w.dtype() == DType::F32 && !w.track_op());
        let engine = if layerwise { Some(EngineTensors::new(config, weights)?) } else { None };
        let weight_bytes = weights.values().map(|w| w.elem_count() * w.dtype().size_in_bytes()).sum();
        Ok(Decoder { model, engine, copies: Mutex::new(None), weight_bytes })
    }

    /// The engine's tensors, when this pass runs on it (outside tests' reference switch).
    fn on_engine(&self) -> Option<&EngineTensors> {
        self.engine.as_ref().filter(|_| !reference_path())
    }

    /// Says that the weights' values changed (an optimizer step, restored adapters): what
    /// was derived from them is made again when next needed.
    pub fn weights_changed(&self) {
        *self.copies.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// The [in, out] copies for a layer-wise pass of `rows` rows, when it reads them.
    fn copies_for(&self, engine: &EngineTensors, rows: usize) -> Result<Option<Arc<InOutCopies>>> {
        if !reads_copies(rows, self.weight_bytes) {
            return Ok(None);
        }
        let mut copies = self.copies.lock().unwrap_or_else(|e| e.into_inner());
        if copies.is_none() {
            *copies = Some(Arc::new(in_out_copies(self.config(), engine)?));
        }
        Ok(copies.clone())
    }

    pub fn config(&self) -> &ModelConfig {
        match &self.model {
            Model::Gpt2(m) => &m.config,
            Model::Llama(m) => &m.config,
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
        let max_positions = self.config().max_position_embeddings;
        if let (Some(cache), Some(engine)) = (cache.as_deref_mut(), self.on_engine()) {
            let (positions, spans) = token_layout(left_pad, offset, time, max_positions)?;
            let ids = ids.flatten_all()?.to_vec1::<u32>()?;
            let copies = self.copies_for(engine, ids.len())?;
            let hidden = infer::forward(self.config(), engine, copies.as_deref(), &ids, Positions::of_rows(positions, spans, &rotary_frequencies(self.config())), cache)?;
            return Ok(Tensor::from_vec(hidden, (batch, time, self.config().hidden_size), &Device::Cpu)?);
        }
        let ctx = Context::new(left_pad, offset, time, max_positions, self.dtype())?;
        let hidden = match &self.model {
            Model::Gpt2(m) => m.forward(ids, &ctx, cache.as_deref_mut())?,
            Model::Llama(m) => m.forward(ids, &ctx, cache.as_deref_mut())?,
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
        match &self.model {
            Model::Gpt2(m) => m.embed(ids, ctx),
            Model::Llama(m) => m.embed(ids),
        }
    }

    pub fn block(&self, layer: usize, x: &Tensor, ctx: &Context) -> Result<Tensor> {
        match &self.model {
            Model::Gpt2(m) => m.block(layer, x, ctx, None),
            Model::Llama(m) => m.block(layer, x, ctx, None),
        }
    }

    pub fn final_norm(&self, x: &Tensor) -> Result<Tensor> {
        match &self.model {
            Model::Gpt2(m) => m.final_norm(x),
            Model::Llama(m) => m.final_norm(x),
        }
    }

    /// The floating-point type of the weights (f32; f64 in gradient checks).
    pub fn dtype(&self) -> DType {
        match &self.model {
            Model::Gpt2(m) => m.lm_head.dtype(),
            Model::Llama(m) => m.lm_head.dtype(),
        }
    }

    /// The output projection: [rows, hidden] (or [..., hidden]) -> logits [rows, vocab].
    pub fn logits(&self, hidden: &Tensor) -> Result<Tensor> {
        if let Some(engine) = self.on_engine().filter(|_| hidden.dtype() == DType::F32 && !hidden.track_op()) {
            let (dims, vocab) = (hidden.dims().to_vec(), self.config().vocab_size);
            let values = hidden.flatten_all()?.to_vec1::<f32>()?;
            let copies = self.copies_for(engine, values.len() / self.config().hidden_size)?;
            let logits = infer::logits(self.config(), engine, copies.as_deref(), &values)?;
            let mut shape = dims[..dims.len() - 1].to_vec();
            shape.push(vocab);
            return Ok(Tensor::from_vec(logits, shape, &Device::Cpu)?);
        }
        linear(hidden, self.lm_head(), None)
    }

    /// The output projection's weight [vocab, hidden] (the token embedding when tied).
    pub fn lm_head(&self) -> &Tensor {
        match &self.model {
            Model::Gpt2(m) => &m.lm_head,
            Model::Llama(m) => &m.lm_head,
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

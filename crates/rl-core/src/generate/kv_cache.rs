//! Keys and values of the tokens already processed, one preallocated buffer per layer,
//! written in place as generation advances (so a decode step never copies the past).
//! Generation and scoring only: in-place writes cannot take part in a gradient graph.
//!
//! Each layer's keys and values are flat f32 buffers [batch, kv_heads, capacity, head_dim]:
//! the layer-wise engine's attention reads them in place (`KvLayer`); candle's reference
//! path gets tensors of the filled columns (`update`).

use candle_core::{Device, Tensor};

use crate::error::{CoreError, ErrorCode, Result};
use crate::kernels::flash_attention::Strided;
use crate::model::ModelConfig;

pub struct KvCache {
    /// Per layer: keys and values.
    layers: Vec<[Vec<f32>; 2]>,
    batch: usize,
    kv_heads: usize,
    head_dim: usize,
    /// Columns filled so far.
    len: usize,
    capacity: usize,
}

/// One layer's keys and values, to read and extend in place.
pub struct KvLayer<'a> {
    keys: &'a mut [f32],
    values: &'a mut [f32],
    kv_heads: usize,
    head_dim: usize,
    capacity: usize,
    /// Columns filled before this pass.
    pub offset: usize,
}

impl KvCache {
    pub fn new(config: &ModelConfig, batch: usize, capacity: usize) -> Result<Self> {
        let size = batch * config.num_kv_heads * capacity * config.head_dim;
        let layers = (0..config.num_layers).map(|_| [vec![0f32; size], vec![0f32; size]]).collect();
        Ok(KvCache { layers, batch, kv_heads: config.num_kv_heads, head_dim: config.head_dim, len: 0, capacity })
    }

    /// Rows (sequences) in the cache.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Columns already cached: the position offset of the next forward pass.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// An error unless `time` more columns fit.
    pub fn check_room(&self, time: usize) -> Result<()> {
        if self.len + time > self.capacity {
            return Err(CoreError::new(ErrorCode::Compute, format!("KV cache overflow: {} + {time} columns > capacity {}", self.len, self.capacity)));
        }
        Ok(())
    }

    /// Layer `layer`'s buffers for a pass of new columns after the cached ones.
    pub fn layer(&mut self, layer: usize) -> KvLayer<'_> {
        let [keys, values] = &mut self.layers[layer];
        KvLayer { keys, values, kv_heads: self.kv_heads, head_dim: self.head_dim, capacity: self.capacity, offset: self.len }
    }

    /// Writes the new keys and values ([batch, kv_heads, time, head_dim]) of `layer` after
    /// the cached ones and returns all of them as tensors (candle's path). Call `advance`
    /// once every layer has been updated.
    pub fn update(&mut self, layer: usize, k: &Tensor, v: &Tensor) -> Result<(Tensor, Tensor)> {
        let (batch, kv_heads, time, d) = k.dims4()?;
        self.check_room(time)?;
        let keys = self.len + time;
        let mut out = Vec::with_capacity(2);
        for (buffer, new) in self.layers[layer].iter_mut().zip([k, v]) {
            let new = new.flatten_all()?.to_vec1::<f32>()?;
            let mut filled = Vec::with_capacity(batch * kv_heads * keys * d);
            for (unit, rows) in new.chunks(time * d).enumerate() {
                let at = unit * self.capacity * d;
                buffer[at + self.len * d..at + keys * d].copy_from_slice(rows);
                filled.extend_from_slice(&buffer[at..at + keys * d]);
            }
            out.push(Tensor::from_vec(filled, (batch, kv_heads, keys, d), &Device::Cpu)?);
        }
        let v = out.pop().expect("values");
        Ok((out.pop().expect("keys"), v))
    }

    /// Makes row i of the cache a copy of row `rows[i]` of the current batch: the rows that
    /// stay when others have finished, or one prefilled prompt repeated for the sequences
    /// that share it.
    pub fn keep_rows(&mut self, rows: &[usize]) -> Result<()> {
        if rows.iter().any(|&r| r >= self.batch) {
            return Err(CoreError::new(ErrorCode::Compute, "KV cache: a row to copy is outside the batch"));
        }
        let per_row = self.kv_heads * self.capacity * self.head_dim;
        for buffer in self.layers.iter_mut().flatten() {
            let mut gathered = Vec::with_capacity(rows.len() * per_row);
            for &from in rows {
                gathered.extend_from_slice(&buffer[from * per_row..(from + 1) * per_row]);
            }
            *buffer = gathered;
        }
        self.batch = rows.len();
        Ok(())
    }

    pub fn advance(&mut self, t: usize) {
        self.len += t;
    }
}

impl KvLayer<'_> {
    /// Writes the keys and values of `time` new columns of every batch row, token-major
    /// ([batch * time, row width], the heads at `offset` in each row), after the cached ones.
    pub fn append(&mut self, keys: (&[f32], usize, usize), values: (&[f32], usize, usize), time: usize) {
        let d = self.head_dim;
        for (buffer, (rows, width, offset)) in [(&mut *self.keys, keys), (&mut *self.values, values)] {
            for (r, row) in rows.chunks(width).enumerate() {
                let (b, t) = (r / time, r % time);
                for g in 0..self.kv_heads {
                    let at = ((b * self.kv_heads + g) * self.capacity + self.offset + t) * d;
                    buffer[at..at + d].copy_from_slice(&row[offset + g * d..offset + (g + 1) * d]);
                }
            }
        }
    }

    /// Keys and values as the attention kernels read them.
    pub fn views(&self) -> (Strided<'_, f32>, Strided<'_, f32>) {
        let d = self.head_dim;
        let strides = [self.kv_heads * self.capacity * d, self.capacity * d, d];
        (Strided { data: self.keys, offset: 0, strides }, Strided { data: self.values, offset: 0, strides })
    }
}

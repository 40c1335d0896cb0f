//! Keys and values of the tokens already processed, one preallocated buffer per layer,
//! written in place as generation advances (so a decode step never copies the past).
//! Generation only: in-place writes cannot take part in a gradient graph.

use candle_core::{DType, Device, Tensor};

use crate::error::{CoreError, ErrorCode, Result};
use crate::model::ModelConfig;

pub struct KvCache {
    /// Per layer: keys and values, [batch, kv_heads, capacity, head_dim].
    layers: Vec<(Tensor, Tensor)>,
    /// Columns filled so far.
    len: usize,
    capacity: usize,
}

impl KvCache {
    pub fn new(config: &ModelConfig, batch: usize, capacity: usize) -> Result<Self> {
        let shape = (batch, config.num_kv_heads, capacity, config.head_dim);
        let layers = (0..config.num_layers)
            .map(|_| Ok((Tensor::zeros(shape, DType::F32, &Device::Cpu)?, Tensor::zeros(shape, DType::F32, &Device::Cpu)?)))
            .collect::<Result<Vec<_>>>()?;
        Ok(KvCache { layers, len: 0, capacity })
    }

    /// Columns already cached: the position offset of the next forward pass.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Writes the new keys and values ([batch, kv_heads, time, head_dim]) of `layer` after
    /// the cached ones and returns views of all of them. Call `advance` once every layer
    /// has been updated.
    pub fn update(&self, layer: usize, k: &Tensor, v: &Tensor) -> Result<(Tensor, Tensor)> {
        let t = k.dim(2)?;
        if self.len + t > self.capacity {
            return Err(CoreError::new(ErrorCode::Compute, format!("KV cache overflow: {} + {t} columns > capacity {}", self.len, self.capacity)));
        }
        let (ck, cv) = &self.layers[layer];
        ck.slice_set(&k.contiguous()?, 2, self.len)?;
        cv.slice_set(&v.contiguous()?, 2, self.len)?;
        Ok((ck.narrow(2, 0, self.len + t)?, cv.narrow(2, 0, self.len + t)?))
    }

    /// Keeps only the given rows (indices into the current batch).
    pub fn keep_rows(&mut self, rows: &[usize]) -> Result<()> {
        let index = Tensor::from_vec(rows.iter().map(|&r| r as u32).collect::<Vec<_>>(), rows.len(), &Device::Cpu)?;
        for (k, v) in self.layers.iter_mut() {
            *k = k.index_select(&index, 0)?;
            *v = v.index_select(&index, 0)?;
        }
        Ok(())
    }

    pub fn advance(&mut self, t: usize) {
        self.len += t;
    }
}

//! Saving and restoring AdamW's state, so that a resumed run continues bit-identically:
//! `optimizer.safetensors` holds the moments (`m.<name>`, `v.<name>`, f32, exact) and
//! `optimizer.json` the step counters.

use std::borrow::Cow;
use std::fs;
use std::path::Path;

use candle_core::{DType, Device};
use serde::{Deserialize, Serialize};

use super::adamw::AdamW;
use super::moments::Moments;
use crate::error::{CoreError, ErrorCode, Result};

pub const STATE_TENSORS: &str = "optimizer.safetensors";
pub const STATE_JSON: &str = "optimizer.json";

#[derive(Serialize, Deserialize)]
struct Counters {
    steps: u64,
    skipped_steps: u64,
}

/// One moment written from the arena: turned into bytes one tensor at a time as the file is
/// written, so that saving never holds a second copy of the whole state.
struct MomentView<'a> {
    values: &'a [f32],
    shape: &'a [usize],
}

impl safetensors::View for MomentView<'_> {
    fn dtype(&self) -> safetensors::Dtype {
        safetensors::Dtype::F32
    }

    fn shape(&self) -> &[usize] {
        self.shape
    }

    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Owned(self.values.iter().flat_map(|x| x.to_le_bytes()).collect())
    }

    fn data_len(&self) -> usize {
        std::mem::size_of_val(self.values)
    }
}

fn checkpoint_error(dir: &Path, what: impl std::fmt::Display) -> CoreError {
    CoreError::new(ErrorCode::InvalidCheckpoint, format!("optimizer state in {}: {what}", dir.display()))
}

impl AdamW {
    /// Writes the state into `dir` (created if needed). Each file is written beside its
    /// final name and renamed, so an interrupted save never leaves a torn file.
    pub fn save(&self, dir: &Path) -> Result<()> {
        fs::create_dir_all(dir).map_err(|e| checkpoint_error(dir, format!("cannot create the folder: {e}")))?;
        let mut tensors = Vec::with_capacity(2 * self.params.len());
        for (i, p) in self.params.iter().enumerate() {
            let (m, v) = self.moments.get(i);
            tensors.push((format!("m.{}", p.name), MomentView { values: m, shape: p.var.dims() }));
            tensors.push((format!("v.{}", p.name), MomentView { values: v, shape: p.var.dims() }));
        }
        let tmp = dir.join(format!("{STATE_TENSORS}.tmp"));
        safetensors::serialize_to_file(tensors, None, &tmp).map_err(|e| checkpoint_error(dir, format!("cannot write the moments: {e}")))?;
        fs::rename(&tmp, dir.join(STATE_TENSORS)).map_err(|e| checkpoint_error(dir, e))?;
        let counters = serde_json::to_string_pretty(&Counters { steps: self.steps, skipped_steps: self.skipped_steps })
            .map_err(|e| checkpoint_error(dir, e))?;
        let tmp = dir.join(format!("{STATE_JSON}.tmp"));
        fs::write(&tmp, counters).map_err(|e| checkpoint_error(dir, format!("cannot write the counters: {e}")))?;
        fs::rename(&tmp, dir.join(STATE_JSON)).map_err(|e| checkpoint_error(dir, e))
    }

    /// Restores a state saved by `save` for the same parameters (same names and shapes);
    /// the configuration stays the one this optimizer was built with.
    pub fn load(&mut self, dir: &Path) -> Result<()> {
        let json = fs::read_to_string(dir.join(STATE_JSON)).map_err(|e| checkpoint_error(dir, format!("cannot read {STATE_JSON}: {e}")))?;
        let counters: Counters = serde_json::from_str(&json).map_err(|e| checkpoint_error(dir, format!("{STATE_JSON} is malformed: {e}")))?;
        let mut tensors = candle_core::safetensors::load(dir.join(STATE_TENSORS), &Device::Cpu)
            .map_err(|e| checkpoint_error(dir, format!("cannot read {STATE_TENSORS}: {e}")))?;
        // Filled into a new arena, so that a state that fails to load leaves this one as it was.
        let mut moments = Moments::zeros(self.params.iter().map(|p| p.var.elem_count()));
        for (i, p) in self.params.iter().enumerate() {
            let mut take = |prefix: &str| -> Result<Vec<f32>> {
                let key = format!("{prefix}.{}", p.name);
                let t = tensors.remove(&key).ok_or_else(|| checkpoint_error(dir, format!("no moment {key}; was it saved for another model?")))?;
                if t.shape() != p.var.shape() || t.dtype() != DType::F32 {
                    return Err(checkpoint_error(dir, format!("{key} is {:?} {:?} but the parameter is {:?}", t.dtype(), t.dims(), p.var.dims())));
                }
                t.flatten_all().and_then(|t| t.to_vec1::<f32>()).map_err(|e| checkpoint_error(dir, e))
            };
            let (m, v) = (take("m")?, take("v")?);
            let (m_slot, v_slot) = moments.get_mut(i);
            m_slot.copy_from_slice(&m);
            v_slot.copy_from_slice(&v);
        }
        if let Some(extra) = tensors.keys().min() {
            return Err(checkpoint_error(dir, format!("{extra} belongs to no parameter of this optimizer; was it saved for another model?")));
        }
        self.moments = moments;
        self.steps = counters.steps;
        self.skipped_steps = counters.skipped_steps;
        Ok(())
    }
}

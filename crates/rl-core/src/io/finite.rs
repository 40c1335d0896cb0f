//! Weights holding NaN or infinity are refused at load, naming the tensor: otherwise they
//! surface much later as NaN log-probs with no hint of their cause.

use candle_core::{CpuStorage, Storage, Tensor};

use super::errors::invalid;
use crate::error::Result;

/// Elements scanned between checks; the scan inside a chunk has no early exit, so it
/// vectorizes.
const CHUNK: usize = 4096;

/// Fails unless every element of the f32 tensor `t` is finite.
pub fn ensure_finite(t: &Tensor, name: &str, source: &str) -> Result<()> {
    let bad = {
        let (storage, layout) = t.storage_and_layout();
        match (&*storage, layout.contiguous_offsets()) {
            (Storage::Cpu(CpuStorage::F32(data)), Some((start, end))) => first_non_finite(&data[start..end]),
            _ => first_non_finite(&t.flatten_all()?.to_vec1::<f32>()?),
        }
    };
    match bad {
        None => Ok(()),
        Some((index, value)) => Err(invalid(format!(
            "{source}: tensor '{name}' holds {value} (element {index} of shape {:?}); weights must be finite, so the file is corrupt or was saved from a diverged run",
            t.dims()
        ))),
    }
}

fn first_non_finite(data: &[f32]) -> Option<(usize, f32)> {
    let is_bad = |x: &f32| x.to_bits() & 0x7f80_0000 == 0x7f80_0000;
    let chunk = data.chunks(CHUNK).position(|c| c.iter().fold(false, |any, x| any | is_bad(x)))?;
    let start = chunk * CHUNK;
    let offset = data[start..].iter().position(is_bad)?;
    Some((start + offset, data[start + offset]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_nan_or_infinity() {
        let mut data = vec![0.5f32; 3 * CHUNK];
        assert_eq!(first_non_finite(&data), None);
        data[CHUNK + 7] = f32::INFINITY;
        data[2 * CHUNK] = f32::NAN;
        assert_eq!(first_non_finite(&data), Some((CHUNK + 7, f32::INFINITY)));
        data[3] = f32::NEG_INFINITY;
        assert_eq!(first_non_finite(&data), Some((3, f32::NEG_INFINITY)));
        assert_eq!(first_non_finite(&[f32::MAX, f32::MIN, f32::MIN_POSITIVE]), None);
    }
}

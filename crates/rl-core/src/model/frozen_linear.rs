//! `x @ W^T + b` (or `x @ W + b` in GPT-2's Conv1D layout) with a constant W and b whose
//! backward gives the gradient of x only.
//!
//! candle's matmul backward computes the gradient of both operands, so with a frozen
//! weight (LoRA's base matrices, the frozen lm_head under LoRA) every step paid for an
//! [out, in] product nobody reads, plus the zeros it was added to.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp1, Layout, Shape, Storage, Tensor};

use crate::error::Result;

/// How the weight is stored.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum WeightLayout {
    /// Linear: [out, in].
    OutIn,
    /// Conv1D: [in, out].
    InOut,
}

/// `rows` [n, in] times the frozen `w`, plus the frozen bias `b`: [n, out]. Only `rows`
/// receives a gradient.
pub fn frozen_linear(rows: &Tensor, w: &Tensor, b: Option<&Tensor>, layout: WeightLayout) -> Result<Tensor> {
    let op = FrozenLinear { w: w.clone(), b: b.map(|b| b.contiguous()).transpose()?, layout };
    Ok(rows.apply_op1(op)?)
}

struct FrozenLinear {
    w: Tensor,
    b: Option<Tensor>,
    layout: WeightLayout,
}

impl FrozenLinear {
    /// The weight as the right operand of `x @ rhs` ([in, out]), as a layout over its storage.
    fn rhs_layout(&self) -> candle_core::Result<Layout> {
        match self.layout {
            WeightLayout::OutIn => self.w.layout().transpose(0, 1),
            WeightLayout::InOut => Ok(self.w.layout().clone()),
        }
    }
}

impl CustomOp1 for FrozenLinear {
    fn name(&self) -> &'static str {
        "frozen-linear"
    }

    fn cpu_fwd(&self, x: &CpuStorage, lx: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (n, inner) = lx.shape().dims2()?;
        let rhs = self.rhs_layout()?;
        let out = rhs.shape().dims2()?.1;
        let (w, _) = self.w.storage_and_layout();
        let Storage::Cpu(w) = &*w else { candle_core::bail!("frozen linear: the weight is not on the CPU") };
        let mut y = x.matmul(w, (1, n, out, inner), lx, &rhs)?;
        if let Some(b) = &self.b {
            let (bs, bl) = b.storage_and_layout();
            match (&mut y, &*bs) {
                (CpuStorage::F32(y), Storage::Cpu(CpuStorage::F32(b))) => add_rows(y, &b[bl.start_offset()..bl.start_offset() + out]),
                (CpuStorage::F64(y), Storage::Cpu(CpuStorage::F64(b))) => add_rows(y, &b[bl.start_offset()..bl.start_offset() + out]),
                _ => candle_core::bail!("frozen linear: the bias must be f32 or f64 like the input"),
            }
        }
        Ok((y, Shape::from((n, out))))
    }

    fn bwd(&self, _x: &Tensor, _y: &Tensor, dy: &Tensor) -> candle_core::Result<Option<Tensor>> {
        let dx = match self.layout {
            WeightLayout::OutIn => dy.matmul(&self.w)?,
            WeightLayout::InOut => dy.matmul(&self.w.t()?)?,
        };
        Ok(Some(dx))
    }
}

fn add_rows<T: Copy + std::ops::AddAssign>(y: &mut [T], b: &[T]) {
    for row in y.chunks_exact_mut(b.len()) {
        for (y, &b) in row.iter_mut().zip(b) {
            *y += b;
        }
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor, Var};

    use super::super::layers::{conv1d, linear, with_reference_path};
    use super::super::weights::SplitMix64;

    fn random(shape: &[usize], seed: u64) -> Tensor {
        let mut rng = SplitMix64(seed);
        Tensor::from_vec((0..shape.iter().product()).map(|_| rng.normal()).collect::<Vec<f32>>(), shape, &Device::Cpu).unwrap()
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar().unwrap()
    }

    /// With a frozen weight, `linear` and `conv1d` give candle's output and input gradient,
    /// and no gradient at all for the weight or bias (candle's matmul computes one).
    #[test]
    fn a_frozen_weight_gets_no_gradient_and_the_input_gradient_is_candles() {
        // Linear [out, in] and Conv1D [in, out]; 40 rows (past the few-rows product).
        for (conv, w) in [(false, random(&[6, 5], 2)), (true, random(&[5, 6], 2))] {
            for bias in [None, Some(random(&[6], 3))] {
                let x = Var::from_tensor(&random(&[2, 20, 5], 1)).unwrap();
                let dy = random(&[2, 20, 6], 4);
                let apply = |x: &Tensor| if conv { conv1d(x, &w, bias.as_ref()) } else { linear(x, &w, bias.as_ref()) }.unwrap();
                let y = apply(x.as_tensor());
                let grads = (&y * &dy).unwrap().sum_all().unwrap().backward().unwrap();
                let (y_ref, grads_ref) = with_reference_path(|| {
                    let y = apply(x.as_tensor());
                    let grads = (&y * &dy).unwrap().sum_all().unwrap().backward().unwrap();
                    (y, grads)
                });
                assert!(max_diff(&y, &y_ref) < 1e-5);
                let (dx, dx_ref) = (grads.get(x.as_tensor()).unwrap(), grads_ref.get(x.as_tensor()).unwrap());
                assert!(max_diff(dx, dx_ref) < 1e-5 * max_diff(dx_ref, &dx_ref.zeros_like().unwrap()));
                assert!(grads.get(&w).is_none(), "conv {conv}: the frozen weight received a gradient");
                if let Some(b) = &bias {
                    assert!(grads.get(b).is_none(), "conv {conv}: the frozen bias received a gradient");
                }
            }
        }
    }
}

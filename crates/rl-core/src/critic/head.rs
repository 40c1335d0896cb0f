//! The value head: one linear unit over the decoder's final hidden state, V = h . w + b.
//! w starts small and seeded (N(0, 1 / (H + 1)^2), as OpenRLHF initializes it), b at 0, so
//! the first predictions are near 0 and the trunk's features, not the head's noise, decide
//! where they go.

use candle_core::{DType, Device, Tensor, Var};

use crate::error::Result;
use crate::model::weights::SplitMix64;
use crate::model::WeightKind;
use crate::optim::Param;

pub const HEAD_WEIGHT: &str = "value_head.weight";
pub const HEAD_BIAS: &str = "value_head.bias";

pub(crate) struct ValueHead {
    /// [1, hidden].
    pub weight: Var,
    /// [1].
    pub bias: Var,
}

impl ValueHead {
    pub fn new(hidden: usize, dtype: DType, seed: u64) -> Result<Self> {
        let mut rng = SplitMix64(seed);
        let std = 1.0 / (hidden as f32 + 1.0);
        let values: Vec<f32> = (0..hidden).map(|_| std * rng.normal()).collect();
        let weight = Var::from_tensor(&Tensor::from_vec(values, (1, hidden), &Device::Cpu)?.to_dtype(dtype)?)?;
        let bias = Var::zeros(1, dtype, &Device::Cpu)?;
        Ok(ValueHead { weight, bias })
    }

    /// Values [n] of hidden states [n, hidden]; differentiable in the head (and in `hidden`
    /// when it carries a graph).
    pub fn forward(&self, hidden: &Tensor) -> Result<Tensor> {
        Ok(hidden.matmul(&self.weight.as_tensor().t()?)?.squeeze(1)?.broadcast_add(self.bias.as_tensor())?)
    }

    pub fn params(&self) -> Vec<Param> {
        vec![
            Param { name: HEAD_WEIGHT.into(), var: self.weight.clone(), kind: WeightKind::Matrix },
            Param { name: HEAD_BIAS.into(), var: self.bias.clone(), kind: WeightKind::Bias },
        ]
    }
}

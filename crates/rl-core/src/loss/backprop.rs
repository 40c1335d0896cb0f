//! How a trainer turns the loss's analytic gradient into parameter gradients, so that the
//! model is trained by exactly the loss `compute_policy_loss` defines.

use candle_core::Tensor;

use crate::error::{check_len, CoreError, ErrorCode, Result};

/// sum_t logprobs_t * grad_t with `grad` (from `compute_policy_loss`) held constant. By the
/// chain rule through the per-token log-probs, its gradient with respect to every model
/// parameter is d loss / d parameter. Its value is not the loss: report `LossOutput::loss`.
pub fn surrogate(logprobs: &Tensor, grad: &[f32]) -> Result<Tensor> {
    check_len("grad", grad.len(), "logprobs", logprobs.elem_count())?;
    let build = || {
        let g = Tensor::from_slice(grad, logprobs.shape(), logprobs.device())?.to_dtype(logprobs.dtype())?;
        (logprobs * g)?.sum_all()
    };
    build().map_err(|e| CoreError::new(ErrorCode::InvalidArgument, format!("building the loss surrogate failed: {e}")))
}

#[cfg(test)]
mod tests {
    use candle_core::{DType, Device, IndexOp, Tensor, Var, D};

    use super::*;
    use crate::loss::{compute_policy_loss, LossConfig, LossInput, LossKind};

    #[test]
    fn backprop_through_the_surrogate_applies_the_loss_gradient_to_the_logits() {
        // A stand-in model: free logits for 6 positions over a vocabulary of 5.
        let (positions, vocab) = (6, 5);
        let values: Vec<f32> = (0..positions * vocab).map(|i| ((i * 37 % 11) as f32 - 5.0) * 0.3).collect();
        let logits = Var::from_slice(&values, (positions, vocab), &Device::Cpu).unwrap();
        let ids = Tensor::new(&[[1u32], [4], [0], [2], [2], [3]], &Device::Cpu).unwrap();
        let log_softmax = candle_nn::ops::log_softmax(logits.as_tensor(), D::Minus1).unwrap();
        let logprobs = log_softmax.gather(&ids, 1).unwrap().squeeze(1).unwrap();

        let logp: Vec<f32> = logprobs.to_vec1().unwrap();
        let old: Vec<f32> = logp.iter().enumerate().map(|(i, l)| l + 0.05 * (i as f32 - 2.5)).collect();
        let reference: Vec<f32> = logp.iter().map(|l| l - 0.3).collect();
        let (mask, offsets, advantages) = ([1u8, 1, 0, 1, 1, 1], [0, 3, 6], [0.8f32, -1.2]);
        let input = LossInput {
            logprobs: &logp,
            old_logprobs: Some(&old),
            ref_logprobs: Some(&reference),
            advantages: Some(&advantages),
            mask: &mask,
            offsets: Some(&offsets),
            normalizer: None,
        };
        let out = compute_policy_loss(&input, &LossConfig { beta: 0.1, ..LossConfig::new(LossKind::TokenClip) }).unwrap();

        let grads = surrogate(&logprobs, &out.grad).unwrap().backward().unwrap();
        let dlogits = grads.get(logits.as_tensor()).unwrap();
        let softmax = log_softmax.exp().unwrap();
        // d logp_t / d logit_{t,v} = [v == id_t] - softmax_{t,v}.
        for t in 0..positions {
            let id = ids.i((t, 0)).unwrap().to_scalar::<u32>().unwrap() as usize;
            let p: Vec<f32> = softmax.i(t).unwrap().to_vec1().unwrap();
            let got: Vec<f32> = dlogits.i(t).unwrap().to_vec1().unwrap();
            for v in 0..vocab {
                let want = out.grad[t] * (f32::from(v == id) - p[v]);
                assert!((got[v] - want).abs() < 1e-6, "position {t}, token {v}: {} vs {want}", got[v]);
            }
            assert_eq!(got.iter().all(|&g| g == 0.0), mask[t] == 0, "position {t}");
        }
    }

    #[test]
    fn rejects_a_gradient_of_another_length() {
        let logprobs = Tensor::zeros(4, DType::F32, &Device::Cpu).unwrap();
        assert_eq!(surrogate(&logprobs, &[0.0; 3]).unwrap_err().code, ErrorCode::LengthMismatch);
    }
}

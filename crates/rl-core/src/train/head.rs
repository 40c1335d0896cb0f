//! The output projection and log-softmax at the loss tokens, in chunks of rows, with a
//! hand-written backward. The [tokens, vocab] logits of a micro-batch never exist at once:
//! each chunk's logits are computed for the values, dropped, and recomputed for the
//! backward (one extra matrix product per chunk instead of keeping them).

use candle_core::{DType, Tensor, WithDType};
use rayon::prelude::*;

use crate::error::{CoreError, ErrorCode, Result};
use crate::model::layers::linear;
use crate::score::token_statistics;

/// Rows whose logits exist at once (256 x a 49k vocabulary: 50 MB in f32).
const LOGIT_ROWS: usize = 256;

/// Calls `f::<f32>` or `f::<f64>` after the dtype (training runs in f32, gradient checks in f64).
macro_rules! by_float_type {
    ($dtype:expr, $f:ident($($arg:expr),*)) => {
        match $dtype {
            DType::F32 => $f::<f32>($($arg),*),
            DType::F64 => $f::<f64>($($arg),*),
            other => Err(unsupported(other)),
        }
    };
}

/// Values at each loss token of softmax(hidden @ lm_head^T / T).
pub(crate) struct HeadValues {
    pub logprobs: Vec<f32>,
    pub entropy: Vec<f64>,
    /// log of each row's softmax normalizer, which the backward reuses.
    log_normalizers: Vec<f64>,
}

/// `hidden` [n, H] and `lm_head` [V, H] hold no graph; `targets` are the n tokens.
pub(crate) fn head_values(hidden: &Tensor, lm_head: &Tensor, targets: &[u32], temperature: f64) -> Result<HeadValues> {
    by_float_type!(hidden.dtype(), values(hidden, lm_head, targets, temperature))
}

/// The gradients of sum_t grad_t * logprob_t with respect to `hidden` ([n, H]) and, when
/// `weight_grad`, to `lm_head` ([V, H]). With z = h W^T / T and p = softmax(z):
/// d logprob_t / d z_v = [v == target_t] - p_v, and d z / d logits = 1 / T.
pub(crate) fn head_backward(
    hidden: &Tensor,
    lm_head: &Tensor,
    targets: &[u32],
    values: &HeadValues,
    grad: &[f32],
    temperature: f64,
    weight_grad: bool,
) -> Result<(Tensor, Option<Tensor>)> {
    by_float_type!(hidden.dtype(), backward(hidden, lm_head, targets, values, grad, temperature, weight_grad))
}

fn unsupported(dtype: DType) -> CoreError {
    CoreError::new(ErrorCode::Compute, format!("training runs in f32 (f64 in gradient checks), not {dtype:?}"))
}

/// Row ranges of at most LOGIT_ROWS.
fn chunks(n: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..n).step_by(LOGIT_ROWS).map(move |start| (start, LOGIT_ROWS.min(n - start)))
}

fn chunk_logits<T: WithDType>(hidden: &Tensor, lm_head: &Tensor, start: usize, rows: usize) -> Result<Vec<T>> {
    Ok(linear(&hidden.narrow(0, start, rows)?, lm_head, None)?.flatten_all()?.to_vec1::<T>()?)
}

fn values<T: WithDType>(hidden: &Tensor, lm_head: &Tensor, targets: &[u32], temperature: f64) -> Result<HeadValues> {
    let vocab = lm_head.dim(0)?;
    let mut out = HeadValues { logprobs: Vec::new(), entropy: Vec::new(), log_normalizers: Vec::new() };
    for (start, rows) in chunks(targets.len()) {
        let logits = chunk_logits::<T>(hidden, lm_head, start, rows)?;
        let stats: Vec<_> = logits
            .par_chunks(vocab)
            .zip(&targets[start..start + rows])
            .map(|(row, &token)| token_statistics(row, token, temperature, true))
            .collect();
        for s in stats {
            out.logprobs.push(s.logprob as f32);
            out.entropy.push(s.entropy);
            out.log_normalizers.push(s.log_normalizer);
        }
    }
    Ok(out)
}

fn backward<T: WithDType>(
    hidden: &Tensor,
    lm_head: &Tensor,
    targets: &[u32],
    values: &HeadValues,
    grad: &[f32],
    temperature: f64,
    weight_grad: bool,
) -> Result<(Tensor, Option<Tensor>)> {
    let vocab = lm_head.dim(0)?;
    let inv = 1.0 / temperature;
    let mut dhidden = Vec::new();
    let mut dweight: Option<Tensor> = None;
    for (start, rows) in chunks(targets.len()) {
        let mut dlogits = chunk_logits::<T>(hidden, lm_head, start, rows)?;
        dlogits.par_chunks_mut(vocab).enumerate().for_each(|(r, row)| {
            let i = start + r;
            // d / d logits = (grad_t / T) * ([v == target] - p_v).
            let (coef, lse) = (grad[i] as f64 * inv, values.log_normalizers[i]);
            for x in row.iter_mut() {
                *x = T::from_f64(-coef * (x.to_f64() * inv - lse).exp());
            }
            let t = targets[i] as usize;
            row[t] = T::from_f64(row[t].to_f64() + coef);
        });
        let dlogits = Tensor::from_vec(dlogits, (rows, vocab), hidden.device())?;
        dhidden.push(dlogits.matmul(lm_head)?);
        if weight_grad {
            let d = dlogits.t()?.matmul(&hidden.narrow(0, start, rows)?)?;
            dweight = Some(match dweight {
                Some(total) => (total + d)?,
                None => d,
            });
        }
    }
    Ok((Tensor::cat(&dhidden, 0)?, dweight))
}

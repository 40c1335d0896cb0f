//! The output projection and log-softmax at the loss tokens, in chunks of rows, with a
//! hand-written backward. A micro-batch's logits are kept from the values to the backward
//! when they fit in `KEEP_ELEMENTS` (one product per chunk, not two); above that each
//! chunk's logits are dropped and recomputed, so [tokens, vocab] never has to exist at once.

use std::any::Any;

use candle_core::{DType, Tensor, WithDType};
use rayon::prelude::*;

use crate::error::{CoreError, ErrorCode, Result};
use crate::kernels::softmax;
use crate::model::layers::linear;
use crate::score::token_statistics;

/// Rows whose logits exist at once (256 x a 49k vocabulary: 50 MB in f32).
pub(crate) const LOGIT_ROWS: usize = 256;

/// Logits kept between the values and the backward, at most (256 MB in f32: a micro-batch
/// of 4 x 256 tokens over a 49k vocabulary).
const KEEP_ELEMENTS: usize = 64 << 20;

/// Logits kept between the values and the backward, at most (KEEP_ELEMENTS; 0 in tests
/// that force the recomputing path).
pub(crate) fn keep_limit() -> usize {
    #[cfg(test)]
    if RECOMPUTE.with(|r| r.get()) {
        return 0;
    }
    KEEP_ELEMENTS
}

#[cfg(test)]
thread_local! {
    static RECOMPUTE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with every chunk's logits recomputed in the backward, as when they do not fit.
#[cfg(test)]
pub(crate) fn with_recomputed_logits<R>(f: impl FnOnce() -> R) -> R {
    crate::model::layers::with_flag(&RECOMPUTE, f)
}

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
    /// Each chunk's logits (a `Vec<T>`), when the micro-batch's fit in KEEP_ELEMENTS.
    kept: Vec<Box<dyn Any + Send>>,
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
    values: &mut HeadValues,
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
    let keep = targets.len() * vocab <= keep_limit();
    let mut out = HeadValues { logprobs: Vec::new(), entropy: Vec::new(), log_normalizers: Vec::new(), kept: Vec::new() };
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
        if keep {
            out.kept.push(Box::new(logits));
        }
    }
    Ok(out)
}

fn backward<T: WithDType>(
    hidden: &Tensor,
    lm_head: &Tensor,
    targets: &[u32],
    values: &mut HeadValues,
    grad: &[f32],
    temperature: f64,
    weight_grad: bool,
) -> Result<(Tensor, Option<Tensor>)> {
    let vocab = lm_head.dim(0)?;
    let inv = 1.0 / temperature;
    let mut dhidden = Vec::new();
    let mut dweight: Option<Tensor> = None;
    let mut kept = std::mem::take(&mut values.kept).into_iter();
    for (start, rows) in chunks(targets.len()) {
        let mut dlogits = match kept.next() {
            Some(logits) => *logits.downcast::<Vec<T>>().expect("kept logits have the head's dtype"),
            None => chunk_logits::<T>(hidden, lm_head, start, rows)?,
        };
        let f32_rows = T::DTYPE == DType::F32;
        dlogits.par_chunks_mut(vocab).enumerate().for_each(|(r, row)| {
            let i = start + r;
            // d / d logits = (grad_t / T) * ([v == target] - p_v).
            let (coef, lse) = (grad[i] as f64 * inv, values.log_normalizers[i]);
            if f32_rows {
                // SAFETY: candle's f32 is the only WithDType whose DTYPE is F32.
                let row = unsafe { std::slice::from_raw_parts_mut(row.as_mut_ptr() as *mut f32, row.len()) };
                softmax::gradient(row, inv as f32, lse as f32, coef as f32);
            } else {
                for x in row.iter_mut() {
                    *x = T::from_f64(-coef * (x.to_f64() * inv - lse).exp());
                }
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

//! A linear map as the layer-wise engine applies it: an [out, in] or [in, out] weight, an
//! optional bias and an optional LoRA adapter, forward and backward, with gradients only
//! for what trains.

use rayon::prelude::*;

use super::matmul::{self, Layout};

/// A LoRA adapter's factors: A [rank, in], B [out, rank] and the scale alpha / rank.
#[derive(Clone, Copy)]
pub(crate) struct Adapter<'a> {
    pub a: &'a [f32],
    pub b: &'a [f32],
    pub rank: usize,
    pub scale: f32,
}

/// A weight (a matrix, or a norm's vector) with its bias and, for a matrix, an optional adapter.
#[derive(Clone, Copy)]
pub(crate) struct Weight<'a> {
    pub w: &'a [f32],
    pub layout: Layout,
    pub bias: Option<&'a [f32]>,
    pub lora: Option<Adapter<'a>>,
}

/// Where a weight's gradients go (`None`: frozen): the weight's, its bias's, its adapter's A and B.
pub(crate) struct Grads<'a> {
    pub w: Option<&'a mut [f32]>,
    pub bias: Option<&'a mut [f32]>,
    pub lora: Option<[&'a mut [f32]; 2]>,
}

impl Weight<'_> {
    /// y [m, n] (+)= x W^T + b + s (x A^T) B^T for x [m, k].
    pub fn forward(&self, y: &mut [f32], x: &[f32], m: usize, k: usize, n: usize, accumulate: bool) {
        matmul::forward(y, x, self.w, self.layout, m, k, n, accumulate);
        if let Some(b) = self.bias {
            y.par_chunks_mut(n).for_each(|row| row.iter_mut().zip(b).for_each(|(y, b)| *y += b));
        }
        if let Some(l) = &self.lora {
            let u = l.down(x, m, k);
            matmul::forward(y, &u, l.b, Layout::OutIn, m, l.rank, n, true);
        }
    }

    /// dx (+)= dy W + s (dy B) A, and the gradients of what trains: dW += dy^T x,
    /// db += column sums of dy, dB += s dy^T (x A^T), dA += s (dy B)^T x.
    #[allow(clippy::too_many_arguments)]
    pub fn backward(&self, g: &mut Grads, dy: &[f32], x: &[f32], dx: &mut [f32], m: usize, n: usize, k: usize, accumulate: bool) {
        if let Some(dw) = g.w.as_deref_mut() {
            matmul::weight_grad(dw, dy, x, self.layout, m, n, k);
        }
        if let Some(db) = g.bias.as_deref_mut() {
            column_sums_into(db, dy);
        }
        matmul::input_grad(dx, dy, self.w, self.layout, m, n, k, accumulate);
        if let Some(l) = &self.lora {
            let mut du = vec![0f32; m * l.rank];
            matmul::input_grad(&mut du, dy, l.b, Layout::OutIn, m, n, l.rank, false);
            du.iter_mut().for_each(|v| *v *= l.scale);
            if let Some([da, db]) = g.lora.as_mut() {
                matmul::weight_grad(db, dy, &l.down(x, m, k), Layout::OutIn, m, n, l.rank);
                matmul::weight_grad(da, &du, x, Layout::OutIn, m, l.rank, k);
            }
            matmul::input_grad(dx, &du, l.a, Layout::OutIn, m, l.rank, k, true);
        }
    }
}

impl Adapter<'_> {
    /// s x A^T [m, rank].
    fn down(&self, x: &[f32], m: usize, k: usize) -> Vec<f32> {
        let mut u = vec![0f32; m * self.rank];
        matmul::forward(&mut u, x, self.a, Layout::OutIn, m, k, self.rank, false);
        u.iter_mut().for_each(|v| *v *= self.scale);
        u
    }
}

/// sums[j] += sum over rows of m[row][j], for m row-major with `sums.len()` columns.
pub(crate) fn column_sums_into(sums: &mut [f32], m: &[f32]) {
    let n = sums.len();
    let partials: Vec<Vec<f32>> = m
        .par_chunks(n * 64)
        .map(|rows| {
            let mut part = vec![0f32; n];
            for row in rows.chunks(n) {
                part.iter_mut().zip(row).for_each(|(p, v)| *p += v);
            }
            part
        })
        .collect();
    for part in partials {
        sums.iter_mut().zip(part).for_each(|(s, p)| *s += p);
    }
}

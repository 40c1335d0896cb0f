//! The three matrix products of a linear layer, straight through `gemm` on row-major f32
//! slices: no tensors, no allocation, and weight gradients accumulated where they live.
//! Weights are [out, in] (HuggingFace's layout), activations [rows, features].

use gemm::{gemm, Parallelism};

use crate::kernels::skinny;

/// How a weight matrix of `out` x `in` features is stored: HuggingFace's Linear [out, in],
/// or GPT-2's Conv1D [in, out].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    OutIn,
    InOut,
}

/// A matrix in a slice: element (i, j) at i * row_stride + j * col_stride.
#[derive(Clone, Copy)]
struct View {
    rows: usize,
    cols: usize,
    rs: isize,
    cs: isize,
}

impl View {
    fn row_major(rows: usize, cols: usize) -> Self {
        View { rows, cols, rs: cols as isize, cs: 1 }
    }

    fn t(self) -> Self {
        View { rows: self.cols, cols: self.rows, rs: self.cs, cs: self.rs }
    }

    /// A weight of `out` x `in` features seen as [out, in], however it is stored.
    fn weight(layout: Layout, out: usize, inp: usize) -> Self {
        match layout {
            Layout::OutIn => View::row_major(out, inp),
            Layout::InOut => View::row_major(inp, out).t(),
        }
    }
}

/// dst (+)= lhs · rhs, every operand a view of its slice.
fn product(dst: &mut [f32], d: View, lhs: &[f32], l: View, rhs: &[f32], r: View, accumulate: bool) {
    assert!(d.rows == l.rows && d.cols == r.cols && l.cols == r.rows, "matmul: shapes do not match");
    assert!(dst.len() == d.rows * d.cols && lhs.len() == l.rows * l.cols && rhs.len() == r.rows * r.cols, "matmul: a slice has the wrong size");
    // SAFETY: each slice holds exactly the elements its view addresses (checked above, and
    // every view here is a dense row-major matrix or its transpose).
    unsafe {
        gemm(d.rows, d.cols, l.cols, dst.as_mut_ptr(), d.cs, d.rs, accumulate, lhs.as_ptr(), l.cs, l.rs, rhs.as_ptr(), r.cs, r.rs, 1.0, 1.0, false, false, false, parallelism());
    }
}

fn parallelism() -> Parallelism {
    // rayon's pool is sized once (RAYON_NUM_THREADS); asking it costs nothing per product.
    Parallelism::Rayon(rayon::current_num_threads())
}

/// Rows up to which a product with a weight stored [out, in] streams the weight once
/// through `kernels::skinny` (a decode step) instead of gemm, which repacks the transposed
/// view of such a weight slowly on every call.
const FEW_ROWS: usize = 16;
/// Rows up to which gemm computes (W x^T)^T for such a weight, the weight as its left
/// operand: 1.3x to 1.5x on a lone 17- to 32-row product. A weight stored [in, out] (or its
/// copy in that layout, see `layerwise::infer`) goes straight through gemm, which packs it
/// well at any number of rows: measured 1.3x to 1.8x the skinny kernel from 8 rows up while
/// the weights are in cache.
pub(crate) const SOME_ROWS: usize = 32;

/// y [m, n] = x [m, k] · W^T for a weight W of n x k features, or y += when `accumulate`.
pub fn forward(y: &mut [f32], x: &[f32], w: &[f32], layout: Layout, m: usize, k: usize, n: usize, accumulate: bool) {
    if layout == Layout::OutIn && m <= FEW_ROWS {
        let product = skinny::out_in(x, w, m, k, n);
        if accumulate {
            y.iter_mut().zip(product).for_each(|(y, p)| *y += p);
        } else {
            y.copy_from_slice(&product);
        }
    } else if layout == Layout::OutIn && m <= SOME_ROWS {
        // Into a contiguous [n, m] and transposed after: gemm writes a strided result slowly.
        let mut yt = vec![0f32; n * m];
        product(&mut yt, View::row_major(n, m), w, View::weight(layout, n, k), x, View::row_major(m, k).t(), false);
        for (i, row) in y.chunks_mut(n).enumerate() {
            for (j, y) in row.iter_mut().enumerate() {
                let v = yt[j * m + i];
                *y = if accumulate { *y + v } else { v };
            }
        }
    } else {
        product(y, View::row_major(m, n), x, View::row_major(m, k), w, View::weight(layout, n, k).t(), accumulate);
    }
}

/// dx [m, k] = dy [m, n] · W, or dx += when `accumulate`.
pub fn input_grad(dx: &mut [f32], dy: &[f32], w: &[f32], layout: Layout, m: usize, n: usize, k: usize, accumulate: bool) {
    product(dx, View::row_major(m, k), dy, View::row_major(m, n), w, View::weight(layout, n, k), accumulate);
}

/// dW += dy [m, n]^T · x [m, k]: the weight gradient, accumulated where it lives (in the
/// weight's own layout).
pub fn weight_grad(dw: &mut [f32], dy: &[f32], x: &[f32], layout: Layout, m: usize, n: usize, k: usize) {
    product(dw, View::weight(layout, n, k), dy, View::row_major(m, n).t(), x, View::row_major(m, k), true);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize, at: impl Fn(&[f32], usize, usize) -> f32, bt: impl Fn(&[f32], usize, usize) -> f32) -> Vec<f32> {
        let mut out = vec![0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] = (0..k).map(|p| at(a, i, p) * bt(b, p, j)).sum();
            }
        }
        out
    }

    fn values(n: usize, seed: u32) -> Vec<f32> {
        (0..n).map(|i| (((i as u32).wrapping_mul(2654435761).wrapping_add(seed) >> 16) % 200) as f32 / 100.0 - 1.0).collect()
    }

    fn close(a: &[f32], b: &[f32]) {
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() <= 1e-4 * (1.0 + y.abs()), "{x} vs {y}");
        }
    }

    #[test]
    fn the_three_products_match_a_naive_loop() {
        // A few rows (the streaming kernel), some (gemm with the weight on the left), many.
        for m in [3, 24, 37] {
            three_products(m);
        }
    }

    fn three_products(m: usize) {
        let (k, n) = (19, 23);
        let (x, w, dy) = (values(m * k, 1), values(n * k, 2), values(m * n, 3));
        // The same weight stored [out, in] and [in, out].
        let w_in_out: Vec<f32> = (0..k * n).map(|at| w[(at % n) * k + at / n]).collect();
        for (layout, stored) in [(Layout::OutIn, &w), (Layout::InOut, &w_in_out)] {
            let mut y = values(m * n, 4);
            let before = y.clone();
            forward(&mut y, &x, stored, layout, m, k, n, true);
            let expected = naive(&x, &w, m, k, n, |a, i, p| a[i * k + p], |b, p, j| b[j * k + p]);
            close(&y, &expected.iter().zip(&before).map(|(e, b)| e + b).collect::<Vec<_>>());
            forward(&mut y, &x, stored, layout, m, k, n, false);
            close(&y, &expected);

            let mut dx = vec![0f32; m * k];
            input_grad(&mut dx, &dy, stored, layout, m, n, k, false);
            close(&dx, &naive(&dy, &w, m, n, k, |a, i, p| a[i * n + p], |b, p, j| b[p * k + j]));

            let start = values(n * k, 5);
            let mut dw = match layout {
                Layout::OutIn => start.clone(),
                Layout::InOut => (0..k * n).map(|at| start[(at % n) * k + at / n]).collect(),
            };
            weight_grad(&mut dw, &dy, &x, layout, m, n, k);
            let product = naive(&dy, &x, n, m, k, |a, j, i| a[i * n + j], |b, i, p| b[i * k + p]);
            let expected: Vec<f32> = product.iter().zip(&start).map(|(e, s)| e + s).collect();
            let as_out_in: Vec<f32> = match layout {
                Layout::OutIn => dw,
                Layout::InOut => (0..n * k).map(|at| dw[(at % k) * n + at / k]).collect(),
            };
            close(&as_out_in, &expected);
        }
    }
}

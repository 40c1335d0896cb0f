//! The three matrix products of a linear layer, straight through `gemm` on row-major f32
//! slices: no tensors, no allocation, and weight gradients accumulated where they live.
//! Weights are [out, in] (HuggingFace's layout), activations [rows, features].

use gemm::{gemm, Parallelism};

fn parallelism() -> Parallelism {
    // Read once per product from rayon's pool (sized once, from RAYON_NUM_THREADS).
    Parallelism::Rayon(rayon::current_num_threads())
}

/// y [m, n] = x [m, k] · w [n, k]^T, or y += when `accumulate`.
pub fn forward(y: &mut [f32], x: &[f32], w: &[f32], m: usize, k: usize, n: usize, accumulate: bool) {
    assert!(y.len() == m * n && x.len() == m * k && w.len() == n * k, "forward: shapes do not match");
    // SAFETY: the three slices hold exactly the [m, n], [m, k] and [n, k] matrices the strides describe.
    unsafe {
        gemm(m, n, k, y.as_mut_ptr(), 1, n as isize, accumulate, x.as_ptr(), 1, k as isize, w.as_ptr(), k as isize, 1, 1.0, 1.0, false, false, false, parallelism());
    }
}

/// dx [m, k] = dy [m, n] · w [n, k], or dx += when `accumulate`.
pub fn input_grad(dx: &mut [f32], dy: &[f32], w: &[f32], m: usize, n: usize, k: usize, accumulate: bool) {
    assert!(dx.len() == m * k && dy.len() == m * n && w.len() == n * k, "input_grad: shapes do not match");
    // SAFETY: as in `forward`; w is read as the [n, k] matrix it is.
    unsafe {
        gemm(m, k, n, dx.as_mut_ptr(), 1, k as isize, accumulate, dy.as_ptr(), 1, n as isize, w.as_ptr(), 1, k as isize, 1.0, 1.0, false, false, false, parallelism());
    }
}

/// dw [n, k] += dy [m, n]^T · x [m, k]: the weight gradient, accumulated in place.
pub fn weight_grad(dw: &mut [f32], dy: &[f32], x: &[f32], m: usize, n: usize, k: usize) {
    assert!(dw.len() == n * k && dy.len() == m * n && x.len() == m * k, "weight_grad: shapes do not match");
    // SAFETY: dy is read transposed (element (j, i) at i * n + j), x as [m, k].
    unsafe {
        gemm(n, k, m, dw.as_mut_ptr(), 1, k as isize, true, dy.as_ptr(), n as isize, 1, x.as_ptr(), 1, k as isize, 1.0, 1.0, false, false, false, parallelism());
    }
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
        let (m, k, n) = (37, 19, 23);
        let (x, w, dy) = (values(m * k, 1), values(n * k, 2), values(m * n, 3));
        let mut y = values(m * n, 4);
        let before = y.clone();
        forward(&mut y, &x, &w, m, k, n, true);
        let expected = naive(&x, &w, m, k, n, |a, i, p| a[i * k + p], |b, p, j| b[j * k + p]);
        close(&y, &expected.iter().zip(&before).map(|(e, b)| e + b).collect::<Vec<_>>());
        forward(&mut y, &x, &w, m, k, n, false);
        close(&y, &expected);

        let mut dx = vec![0f32; m * k];
        input_grad(&mut dx, &dy, &w, m, n, k, false);
        close(&dx, &naive(&dy, &w, m, n, k, |a, i, p| a[i * n + p], |b, p, j| b[p * k + j]));

        let mut dw = values(n * k, 5);
        let start = dw.clone();
        weight_grad(&mut dw, &dy, &x, m, n, k);
        let product = naive(&dy, &x, n, m, k, |a, j, i| a[i * n + j], |b, i, p| b[i * k + p]);
        close(&dw, &product.iter().zip(&start).map(|(e, s)| e + s).collect::<Vec<_>>());
    }
}

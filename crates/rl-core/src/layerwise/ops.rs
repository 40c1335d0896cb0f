//! The elementwise parts of a Llama block, forward and backward, each one pass over rows
//! split across rayon's pool: RMSNorm, rotary positions, SwiGLU, and the head-major copies
//! the attention kernel reads. Each forward keeps only what its backward needs.

use rayon::prelude::*;

/// Rows per rayon task: enough work per task for a 2-core pool not to spin.
const ROWS_PER_TASK: usize = 16;

/// out = x / rms(x) * w per row of `width`; saves 1 / rms per row in `inv_rms`.
pub fn rms_norm(x: &[f32], w: &[f32], eps: f64, out: &mut [f32], inv_rms: &mut [f32]) {
    let width = w.len();
    out.par_chunks_mut(width * ROWS_PER_TASK).zip(inv_rms.par_chunks_mut(ROWS_PER_TASK)).enumerate().for_each(|(task, (out, inv))| {
        let first = task * ROWS_PER_TASK;
        for (r, (row_out, inv)) in out.chunks_mut(width).zip(inv.iter_mut()).enumerate() {
            let row = &x[(first + r) * width..(first + r + 1) * width];
            let mean_square = row.iter().map(|&v| v * v).sum::<f32>() / width as f32;
            *inv = 1.0 / (mean_square + eps as f32).sqrt();
            for ((o, &v), &g) in row_out.iter_mut().zip(row).zip(w) {
                *o = v * *inv * g;
            }
        }
    });
}

/// The backward of `rms_norm`: dx += (r g - r^3 x (g . x) / width) with g = w * dy, and,
/// unless the weight is frozen (`dw` None), dw += sum over rows of dy * x * r.
pub fn rms_norm_backward(dy: &[f32], x: &[f32], w: &[f32], inv_rms: &[f32], dx: &mut [f32], dw: Option<&mut [f32]>) {
    let width = w.len();
    let partials: Vec<Vec<f32>> = dx
        .par_chunks_mut(width * ROWS_PER_TASK)
        .enumerate()
        .map(|(task, dx)| {
            let mut dw_part = vec![0f32; width];
            let first = task * ROWS_PER_TASK;
            for (r, dx_row) in dx.chunks_mut(width).enumerate() {
                let i = first + r;
                let (row, dy_row, inv) = (&x[i * width..(i + 1) * width], &dy[i * width..(i + 1) * width], inv_rms[i]);
                let dot: f32 = row.iter().zip(dy_row).zip(w).map(|((&v, &d), &g)| v * d * g).sum();
                let coef = inv * inv * inv * dot / width as f32;
                for e in 0..width {
                    dx_row[e] += inv * w[e] * dy_row[e] - coef * row[e];
                    dw_part[e] += dy_row[e] * row[e] * inv;
                }
            }
            dw_part
        })
        .collect();
    if let Some(dw) = dw {
        for part in partials {
            for (d, p) in dw.iter_mut().zip(part) {
                *d += p;
            }
        }
    }
}

/// Rotates `x` ([rows, heads, head_dim], row r at position `positions[r]`) in place by the
/// "rotate half" convention: (a, b) -> (a cos - b sin, b cos + a sin) for the pairs
/// (i, i + head_dim / 2). `cos` and `sin` are [positions, head_dim / 2]. The backward is
/// the same rotation with `sin` negated (`inverse`).
pub fn rope(x: &mut [f32], heads: usize, head_dim: usize, positions: &[u32], cos: &[f32], sin: &[f32], inverse: bool) {
    let (half, width) = (head_dim / 2, heads * head_dim);
    x.par_chunks_mut(width * ROWS_PER_TASK).enumerate().for_each(|(task, rows)| {
        for (r, row) in rows.chunks_mut(width).enumerate() {
            let p = positions[task * ROWS_PER_TASK + r] as usize;
            let (c, s) = (&cos[p * half..(p + 1) * half], &sin[p * half..(p + 1) * half]);
            for head in row.chunks_mut(head_dim) {
                let (a, b) = head.split_at_mut(half);
                for i in 0..half {
                    let s = if inverse { -s[i] } else { s[i] };
                    let (x1, x2) = (a[i], b[i]);
                    a[i] = x1 * c[i] - x2 * s;
                    b[i] = x2 * c[i] + x1 * s;
                }
            }
        }
    });
}

/// out = silu(gate) * up.
pub fn swiglu(gate: &[f32], up: &[f32], out: &mut [f32]) {
    out.par_chunks_mut(4096).enumerate().for_each(|(task, out)| {
        let at = task * 4096;
        for (i, o) in out.iter_mut().enumerate() {
            let a = gate[at + i];
            *o = a / (1.0 + (-a).exp()) * up[at + i];
        }
    });
}

/// The backward of `swiglu` from `d_out`: d_gate = d_out up s (1 + a (1 - s)) with
/// s = sigmoid(a), d_up = d_out silu(a).
pub fn swiglu_backward(d_out: &[f32], gate: &[f32], up: &[f32], d_gate: &mut [f32], d_up: &mut [f32]) {
    d_gate.par_chunks_mut(4096).zip(d_up.par_chunks_mut(4096)).enumerate().for_each(|(task, (dg, du))| {
        let at = task * 4096;
        for i in 0..dg.len() {
            let (a, u, d) = (gate[at + i], up[at + i], d_out[at + i]);
            let s = 1.0 / (1.0 + (-a).exp());
            dg[i] = d * u * s * (1.0 + a * (1.0 - s));
            du[i] = d * a * s;
        }
    });
}

/// [batch, time, heads, d] -> [batch, heads, time, d] (`to_heads`), or back.
pub fn transpose_heads(src: &[f32], dst: &mut [f32], time: usize, heads: usize, d: usize, to_heads: bool) {
    dst.par_chunks_mut(time * heads * d).enumerate().for_each(|(b, dst)| {
        let src = &src[b * time * heads * d..(b + 1) * time * heads * d];
        for t in 0..time {
            for h in 0..heads {
                let (token_major, head_major) = ((t * heads + h) * d, (h * time + t) * d);
                let (from, to) = if to_heads { (token_major, head_major) } else { (head_major, token_major) };
                dst[to..to + d].copy_from_slice(&src[from..from + d]);
            }
        }
    });
}

/// a += b.
pub fn add_into(a: &mut [f32], b: &[f32]) {
    a.par_chunks_mut(8192).zip(b.par_chunks(8192)).for_each(|(a, b)| a.iter_mut().zip(b).for_each(|(x, y)| *x += y));
}

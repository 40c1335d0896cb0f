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

/// Rotates `x` ([rows, heads, head_dim]) in place by the "rotate half" convention:
/// (a, b) -> (a cos - b sin, b cos + a sin) for the pairs (i, i + head_dim / 2). `cos` and
/// `sin` are [rows, head_dim / 2], each row's angles. The backward is the same rotation
/// with `sin` negated (`inverse`).
pub fn rope(x: &mut [f32], heads: usize, head_dim: usize, cos: &[f32], sin: &[f32], inverse: bool) {
    let (half, width) = (head_dim / 2, heads * head_dim);
    x.par_chunks_mut(width * ROWS_PER_TASK).enumerate().for_each(|(task, rows)| {
        for (r, row) in rows.chunks_mut(width).enumerate() {
            let p = task * ROWS_PER_TASK + r;
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

/// Head-major [batch, heads, time, d] from the columns `offset..offset + heads * d` of
/// token-major rows of `row_width` ([batch * time, row_width]).
pub fn to_heads(tokens: &[f32], row_width: usize, offset: usize, heads_out: &mut [f32], time: usize, heads: usize, d: usize) {
    heads_out.par_chunks_mut(time * heads * d).enumerate().for_each(|(b, out)| {
        for t in 0..time {
            let row = &tokens[(b * time + t) * row_width + offset..][..heads * d];
            for h in 0..heads {
                out[(h * time + t) * d..][..d].copy_from_slice(&row[h * d..(h + 1) * d]);
            }
        }
    });
}

/// The inverse of `to_heads`: writes head-major [batch, heads, time, d] into those columns.
pub fn from_heads(heads_in: &[f32], tokens: &mut [f32], row_width: usize, offset: usize, time: usize, heads: usize, d: usize) {
    tokens.par_chunks_mut(time * row_width).enumerate().for_each(|(b, rows)| {
        let src = &heads_in[b * heads * time * d..(b + 1) * heads * time * d];
        for t in 0..time {
            let row = &mut rows[t * row_width + offset..][..heads * d];
            for h in 0..heads {
                row[h * d..(h + 1) * d].copy_from_slice(&src[(h * time + t) * d..][..d]);
            }
        }
    });
}


/// out = (x - mean) / sqrt(var + eps) * w + b per row of `width`; saves each row's mean and
/// 1 / sqrt(var + eps).
pub fn layer_norm(x: &[f32], w: &[f32], b: &[f32], eps: f64, out: &mut [f32], mean: &mut [f32], inv_std: &mut [f32]) {
    let width = w.len();
    out.par_chunks_mut(width * ROWS_PER_TASK).zip(mean.par_chunks_mut(ROWS_PER_TASK).zip(inv_std.par_chunks_mut(ROWS_PER_TASK))).enumerate().for_each(|(task, (out, (mean, inv)))| {
        let first = task * ROWS_PER_TASK;
        for (r, row_out) in out.chunks_mut(width).enumerate() {
            let row = &x[(first + r) * width..(first + r + 1) * width];
            let mu = row.iter().sum::<f32>() / width as f32;
            let var = row.iter().map(|&v| (v - mu) * (v - mu)).sum::<f32>() / width as f32;
            let rstd = 1.0 / (var + eps as f32).sqrt();
            (mean[r], inv[r]) = (mu, rstd);
            for e in 0..width {
                row_out[e] = (row[e] - mu) * rstd * w[e] + b[e];
            }
        }
    });
}

/// The backward of `layer_norm`: with xh = (x - mean) r and g = w * dy,
/// dx += r (g - mean(g) - xh mean(g xh)); unless frozen, dw += dy xh and db += dy.
#[allow(clippy::too_many_arguments)]
pub fn layer_norm_backward(dy: &[f32], x: &[f32], w: &[f32], mean: &[f32], inv_std: &[f32], dx: &mut [f32], dw: Option<&mut [f32]>, db: Option<&mut [f32]>) {
    let width = w.len();
    let partials: Vec<(Vec<f32>, Vec<f32>)> = dx
        .par_chunks_mut(width * ROWS_PER_TASK)
        .enumerate()
        .map(|(task, dx)| {
            let (mut dw_part, mut db_part) = (vec![0f32; width], vec![0f32; width]);
            let first = task * ROWS_PER_TASK;
            for (r, dx_row) in dx.chunks_mut(width).enumerate() {
                let i = first + r;
                let (row, dy_row, mu, rstd) = (&x[i * width..(i + 1) * width], &dy[i * width..(i + 1) * width], mean[i], inv_std[i]);
                let (mut g_mean, mut gx_mean) = (0f32, 0f32);
                for e in 0..width {
                    let g = w[e] * dy_row[e];
                    g_mean += g;
                    gx_mean += g * (row[e] - mu) * rstd;
                }
                (g_mean, gx_mean) = (g_mean / width as f32, gx_mean / width as f32);
                for e in 0..width {
                    let xh = (row[e] - mu) * rstd;
                    dx_row[e] += rstd * (w[e] * dy_row[e] - g_mean - xh * gx_mean);
                    dw_part[e] += dy_row[e] * xh;
                    db_part[e] += dy_row[e];
                }
            }
            (dw_part, db_part)
        })
        .collect();
    for (target, pick) in [(dw, 0), (db, 1)] {
        if let Some(target) = target {
            for part in &partials {
                let part = if pick == 0 { &part.0 } else { &part.1 };
                target.iter_mut().zip(part).for_each(|(t, p)| *t += p);
            }
        }
    }
}

const GELU_C: f32 = 0.797_884_6; // sqrt(2 / pi)

/// out = GELU(x), the tanh approximation GPT-2 uses.
pub fn gelu(x: &[f32], out: &mut [f32]) {
    out.par_chunks_mut(4096).zip(x.par_chunks(4096)).for_each(|(out, x)| {
        for (o, &v) in out.iter_mut().zip(x) {
            *o = 0.5 * v * (1.0 + (GELU_C * (v + 0.044715 * v * v * v)).tanh());
        }
    });
}

/// dx = d_out * GELU'(x).
pub fn gelu_backward(d_out: &[f32], x: &[f32], dx: &mut [f32]) {
    dx.par_chunks_mut(4096).zip(x.par_chunks(4096).zip(d_out.par_chunks(4096))).for_each(|(dx, (x, d))| {
        for ((g, &v), &d) in dx.iter_mut().zip(x).zip(d) {
            let t = (GELU_C * (v + 0.044715 * v * v * v)).tanh();
            *g = d * (0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * GELU_C * (1.0 + 3.0 * 0.044715 * v * v));
        }
    });
}

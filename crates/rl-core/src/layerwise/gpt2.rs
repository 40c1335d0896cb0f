//! GPT-2's training forward and backward, block by block, on the layer-wise engine's
//! kernels: pre-LayerNorm blocks with biases, one fused q/k/v projection, multi-head
//! attention through the flash kernel, a tanh-GELU MLP, and learned positions. Weights keep
//! the Conv1D [in, out] layout (`Layout::InOut`); biases ride with their weights.

use crate::generate::kv_cache::KvLayer;
use crate::kernels::flash_attention::{self, Strided};

use super::infer::{attend, project};

use super::linear::{Grads, Weight};
use super::shape::{Positions, Shape};
use super::ops::{from_heads, gelu, gelu_backward, layer_norm, layer_norm_backward, to_heads};

/// The weights of one block (each with its bias), in this order.
pub(crate) const BLOCK_WEIGHTS: [&str; 6] = ["ln_1.weight", "attn.c_attn.weight", "attn.c_proj.weight", "ln_2.weight", "mlp.c_fc.weight", "mlp.c_proj.weight"];

pub(crate) struct Block<T> {
    pub ln_1: T,
    pub qkv: T,
    pub attn_proj: T,
    pub ln_2: T,
    pub fc: T,
    pub mlp_proj: T,
}

impl<T> Block<T> {
    pub fn from_array([ln_1, qkv, attn_proj, ln_2, fc, mlp_proj]: [T; 6]) -> Self {
        Block { ln_1, qkv, attn_proj, ln_2, fc, mlp_proj }
    }
}

/// What a block's backward reads.
pub(crate) struct Saved {
    input: Vec<f32>,
    ln_1: [Vec<f32>; 2],
    /// The fused projection [rows, 3 * hidden]: keys and values are read from it in place.
    qkv: Vec<f32>,
    /// Queries, head-major [batch, heads, time, d].
    q: Vec<f32>,
    attn: Vec<f32>,
    lse: Vec<f32>,
    mid: Vec<f32>,
    ln_2: [Vec<f32>; 2],
    /// The MLP's first projection, before GELU.
    fc: Vec<f32>,
}

impl Saved {
    pub fn into_input(self) -> Vec<f32> {
        self.input
    }
}

/// Keys (`part` 1) or values (2) inside the fused projection.
fn kv_view(s: Shape, qkv: &[f32], part: usize) -> Strided<'_, f32> {
    let width = 3 * s.hidden;
    Strided { data: qkv, offset: part * s.hidden, strides: [s.time * width, s.head_dim, width] }
}

fn norm(x: &[f32], w: &Weight, eps: f64, rows: usize) -> (Vec<f32>, [Vec<f32>; 2]) {
    let mut out = vec![0f32; x.len()];
    let (mut mean, mut inv) = (vec![0f32; rows], vec![0f32; rows]);
    layer_norm(x, w.w, w.bias.expect("a LayerNorm has a bias"), eps, &mut out, &mut mean, &mut inv);
    (out, [mean, inv])
}

fn norm_backward(dy: &[f32], x: &[f32], w: &Weight, g: &mut Grads, stats: &[Vec<f32>; 2], dx: &mut [f32]) {
    layer_norm_backward(dy, x, w.w, &stats[0], &stats[1], dx, g.w.as_deref_mut(), g.bias.as_deref_mut());
}

pub(crate) fn block_forward(w: &Block<Weight>, s: Shape, pos: &Positions, input: Vec<f32>) -> (Vec<f32>, Saved) {
    let (rows, h, i) = (s.rows(), s.hidden, s.intermediate);
    let (normed, ln_1) = norm(&input, &w.ln_1, s.eps, rows);
    let mut qkv = vec![0f32; rows * 3 * h];
    w.qkv.forward(&mut qkv, &normed, rows, h, 3 * h, false);
    let mut q = vec![0f32; rows * h];
    to_heads(&qkv, 3 * h, 0, &mut q, s.time, s.heads, s.head_dim);
    let mut attn = vec![0f32; q.len()];
    let mut lse = vec![0f32; s.batch * s.heads * s.time];
    flash_attention::forward(s.dims(), &q, kv_view(s, &qkv, 1), kv_view(s, &qkv, 2), &pos.spans, 1.0 / (s.head_dim as f64).sqrt(), &mut attn, &mut lse);
    let mut attn_tokens = normed;
    from_heads(&attn, &mut attn_tokens, h, 0, s.time, s.heads, s.head_dim);
    let mut mid = input.clone();
    w.attn_proj.forward(&mut mid, &attn_tokens, rows, h, h, true);

    let (normed, ln_2) = norm(&mid, &w.ln_2, s.eps, rows);
    let mut fc = vec![0f32; rows * i];
    w.fc.forward(&mut fc, &normed, rows, h, i, false);
    let mut act = vec![0f32; rows * i];
    gelu(&fc, &mut act);
    let mut out = mid.clone();
    w.mlp_proj.forward(&mut out, &act, rows, i, h, true);
    (out, Saved { input, ln_1, qkv, q, attn, lse, mid, ln_2, fc })
}

/// The block's output for `x` ([rows, hidden], overwritten) in a pass without a graph,
/// its keys and values appended to the cache `layer`.
pub(crate) fn block_inference(w: &Block<Weight>, s: Shape, pos: &Positions, x: &mut [f32], layer: KvLayer) {
    let (rows, h, i) = (s.rows(), s.hidden, s.intermediate);
    let (normed, _) = norm(x, &w.ln_1, s.eps, rows);
    let qkv = project(&w.qkv, &normed, rows, h, 3 * h);
    let attn = attend(s, pos, layer, (&qkv, 3 * h, 0), (&qkv, 3 * h, h), (&qkv, 3 * h, 2 * h));
    w.attn_proj.forward(x, &attn, rows, h, h, true);
    let (normed, _) = norm(x, &w.ln_2, s.eps, rows);
    let fc = project(&w.fc, &normed, rows, h, i);
    let mut act = vec![0f32; rows * i];
    gelu(&fc, &mut act);
    w.mlp_proj.forward(x, &act, rows, i, h, true);
}

pub(crate) fn block_backward(w: &Block<Weight>, g: &mut Block<Grads>, s: Shape, pos: &Positions, saved: Saved, d_out: &[f32]) -> Vec<f32> {
    let (rows, h, i) = (s.rows(), s.hidden, s.intermediate);
    let Saved { input, ln_1, qkv, q, attn, lse, mid, ln_2, fc } = saved;

    // MLP: out = mid + proj(gelu(fc(ln_2(mid)))).
    let mut act = vec![0f32; rows * i];
    gelu(&fc, &mut act);
    let mut d_act = vec![0f32; rows * i];
    w.mlp_proj.backward(&mut g.mlp_proj, d_out, &act, &mut d_act, rows, h, i, false);
    let mut d_fc = act;
    gelu_backward(&d_act, &fc, &mut d_fc);
    drop((d_act, fc));
    let (normed, _) = norm(&mid, &w.ln_2, s.eps, rows);
    let mut d_normed = vec![0f32; rows * h];
    w.fc.backward(&mut g.fc, &d_fc, &normed, &mut d_normed, rows, i, h, false);
    drop(d_fc);
    let mut d_mid = d_out.to_vec();
    norm_backward(&d_normed, &mid, &w.ln_2, &mut g.ln_2, &ln_2, &mut d_mid);
    drop(mid);

    // Attention: mid = input + proj(attention(qkv(ln_1(input)))).
    let mut attn_tokens = normed;
    from_heads(&attn, &mut attn_tokens, h, 0, s.time, s.heads, s.head_dim);
    let mut d_attn_tokens = d_normed;
    w.attn_proj.backward(&mut g.attn_proj, &d_mid, &attn_tokens, &mut d_attn_tokens, rows, h, h, false);
    let mut d_attn = vec![0f32; attn.len()];
    to_heads(&d_attn_tokens, h, 0, &mut d_attn, s.time, s.heads, s.head_dim);
    let (mut dq, mut dk, mut dv) = (vec![0f32; q.len()], vec![0f32; q.len()], vec![0f32; q.len()]);
    flash_attention::backward(s.dims(), &q, kv_view(s, &qkv, 1), kv_view(s, &qkv, 2), &pos.spans, 1.0 / (s.head_dim as f64).sqrt(), &attn, &lse, &d_attn, &mut dq, &mut dk, &mut dv);
    drop((q, qkv, attn, lse, d_attn));
    let mut d_qkv = vec![0f32; rows * 3 * h];
    for (part, grad) in [&dq, &dk, &dv].into_iter().enumerate() {
        from_heads(grad, &mut d_qkv, 3 * h, part * h, s.time, s.heads, s.head_dim);
    }
    drop((dq, dk, dv));
    let (normed, _) = norm(&input, &w.ln_1, s.eps, rows);
    let mut d_normed = attn_tokens;
    w.qkv.backward(&mut g.qkv, &d_qkv, &normed, &mut d_normed, rows, 3 * h, h, false);
    let mut d_input = d_mid;
    norm_backward(&d_normed, &input, &w.ln_1, &mut g.ln_1, &ln_1, &mut d_input);
    d_input
}

/// The final LayerNorm's output and statistics.
pub(crate) fn final_norm(x: &[f32], w: &Weight, eps: f64, rows: usize) -> (Vec<f32>, [Vec<f32>; 2]) {
    norm(x, w, eps, rows)
}

pub(crate) fn final_norm_backward(d_hidden: &[f32], x: &[f32], w: &Weight, g: &mut Grads, stats: &[Vec<f32>; 2]) -> Vec<f32> {
    let mut dx = vec![0f32; x.len()];
    norm_backward(d_hidden, x, w, g, stats, &mut dx);
    dx
}

//! A Llama decoder's training forward and backward, block by block, on flat f32 buffers:
//! every product goes straight to `gemm` (matmul.rs), the elementwise work is one pass each
//! (ops.rs), attention is the flash kernel, and each block keeps only what its backward
//! reads. Weight gradients are accumulated into the caller's buffers.

use crate::generate::kv_cache::KvLayer;
use crate::kernels::flash_attention;

use super::infer::{attend, project};

use super::linear::{Grads, Weight};
use super::shape::{Positions, Shape};
use super::ops::{rms_norm, rms_norm_backward, swiglu, swiglu_backward, to_heads, from_heads};

/// The weights of one block, [out, in] matrices and norm vectors, in `BLOCK_WEIGHTS` order.
pub(crate) const BLOCK_WEIGHTS: [&str; 9] = [
    "input_layernorm.weight",
    "self_attn.q_proj.weight",
    "self_attn.k_proj.weight",
    "self_attn.v_proj.weight",
    "self_attn.o_proj.weight",
    "post_attention_layernorm.weight",
    "mlp.gate_proj.weight",
    "mlp.up_proj.weight",
    "mlp.down_proj.weight",
];

/// One block's weights, or gradients, in `BLOCK_WEIGHTS` order.
pub(crate) struct Block<T> {
    pub input_norm: T,
    pub q: T,
    pub k: T,
    pub v: T,
    pub o: T,
    pub post_norm: T,
    pub gate: T,
    pub up: T,
    pub down: T,
}

impl<T> Block<T> {
    pub fn from_array([input_norm, q, k, v, o, post_norm, gate, up, down]: [T; 9]) -> Self {
        Block { input_norm, q, k, v, o, post_norm, gate, up, down }
    }
}

/// What a block's backward reads; the rest (norm outputs, the SwiGLU product, the
/// token-major attention output) is recomputed there in one cheap pass each.
pub(crate) struct Saved {
    input: Vec<f32>,
    inv_rms1: Vec<f32>,
    /// Rotated queries, head-major [batch, heads, time, d].
    q: Vec<f32>,
    /// Rotated keys and values, token-major [rows, kv_heads * d].
    k: Vec<f32>,
    v: Vec<f32>,
    /// Attention output, head-major like q, and each query row's log-sum-exp.
    attn: Vec<f32>,
    lse: Vec<f32>,
    mid: Vec<f32>,
    inv_rms2: Vec<f32>,
    gate: Vec<f32>,
    up: Vec<f32>,
}

impl Saved {
    /// The block input alone, from which `block_forward` recomputes the rest (recompute mode).
    pub fn into_input(self) -> Vec<f32> {
        self.input
    }
}

/// The block's output for `input` ([rows, hidden]) and what its backward needs.
pub(crate) fn block_forward(w: &Block<Weight>, s: Shape, pos: &Positions, input: Vec<f32>) -> (Vec<f32>, Saved) {
    let (rows, h, i) = (s.rows(), s.hidden, s.intermediate);
    let mut normed = vec![0f32; rows * h];
    let mut inv_rms1 = vec![0f32; rows];
    rms_norm(&input, w.input_norm.w, s.eps, &mut normed, &mut inv_rms1);

    let mut q_tokens = vec![0f32; rows * s.q_width()];
    let mut k = vec![0f32; rows * s.kv_width()];
    let mut v = vec![0f32; rows * s.kv_width()];
    w.q.forward(&mut q_tokens, &normed, rows, h, s.q_width(), false);
    w.k.forward(&mut k, &normed, rows, h, s.kv_width(), false);
    w.v.forward(&mut v, &normed, rows, h, s.kv_width(), false);
    pos.rotate(&mut q_tokens, s.heads, s.head_dim, false);
    pos.rotate(&mut k, s.kv_heads, s.head_dim, false);
    let mut q = vec![0f32; q_tokens.len()];
    to_heads(&q_tokens, s.q_width(), 0, &mut q, s.time, s.heads, s.head_dim);
    drop(q_tokens);

    let mut attn = vec![0f32; q.len()];
    let mut lse = vec![0f32; s.batch * s.heads * s.time];
    flash_attention::forward(s.dims(), &q, s.kv(&k), s.kv(&v), &pos.spans, 1.0 / (s.head_dim as f64).sqrt(), &mut attn, &mut lse);
    let mut attn_tokens = resized(normed, rows * s.q_width());
    from_heads(&attn, &mut attn_tokens, s.q_width(), 0, s.time, s.heads, s.head_dim);
    let mut mid = input.clone();
    w.o.forward(&mut mid, &attn_tokens, rows, s.q_width(), h, true);

    let mut normed2 = resized(attn_tokens, rows * h);
    let mut inv_rms2 = vec![0f32; rows];
    rms_norm(&mid, w.post_norm.w, s.eps, &mut normed2, &mut inv_rms2);
    let mut gate = vec![0f32; rows * i];
    let mut up = vec![0f32; rows * i];
    w.gate.forward(&mut gate, &normed2, rows, h, i, false);
    w.up.forward(&mut up, &normed2, rows, h, i, false);
    let mut act = vec![0f32; rows * i];
    swiglu(&gate, &up, &mut act);
    let mut out = mid.clone();
    w.down.forward(&mut out, &act, rows, i, h, true);
    (out, Saved { input, inv_rms1, q, k, v, attn, lse, mid, inv_rms2, gate, up })
}

/// The block's output for `x` ([rows, hidden], overwritten) in a pass without a graph,
/// its keys and values appended to the cache `layer`.
pub(crate) fn block_inference(w: &Block<Weight>, s: Shape, pos: &Positions, x: &mut [f32], layer: KvLayer) {
    let (rows, h, i) = (s.rows(), s.hidden, s.intermediate);
    let mut normed = vec![0f32; rows * h];
    let mut inv_rms = vec![0f32; rows];
    rms_norm(x, w.input_norm.w, s.eps, &mut normed, &mut inv_rms);
    let mut q = project(&w.q, &normed, rows, h, s.q_width());
    let mut k = project(&w.k, &normed, rows, h, s.kv_width());
    let v = project(&w.v, &normed, rows, h, s.kv_width());
    pos.rotate(&mut q, s.heads, s.head_dim, false);
    pos.rotate(&mut k, s.kv_heads, s.head_dim, false);
    let attn = attend(s, pos, layer, (&q, s.q_width(), 0), (&k, s.kv_width(), 0), (&v, s.kv_width(), 0));
    w.o.forward(x, &attn, rows, s.q_width(), h, true);

    rms_norm(x, w.post_norm.w, s.eps, &mut normed, &mut inv_rms);
    let gate = project(&w.gate, &normed, rows, h, i);
    let up = project(&w.up, &normed, rows, h, i);
    let mut act = vec![0f32; rows * i];
    swiglu(&gate, &up, &mut act);
    w.down.forward(x, &act, rows, i, h, true);
}

/// Adds the block's gradients for the output gradient `d_out` to `g` (frozen weights get
/// none) and returns the gradient of its input.
pub(crate) fn block_backward(w: &Block<Weight>, g: &mut Block<Grads>, s: Shape, pos: &Positions, saved: Saved, d_out: &[f32]) -> Vec<f32> {
    let (rows, h, i) = (s.rows(), s.hidden, s.intermediate);
    let Saved { input, inv_rms1, q, k, v, attn, lse, mid, inv_rms2, gate, up } = saved;

    // MLP: out = mid + down(silu(gate) * up), gate and up from norm2(mid).
    let mut act = vec![0f32; rows * i];
    swiglu(&gate, &up, &mut act);
    let mut d_act = vec![0f32; rows * i];
    w.down.backward(&mut g.down, d_out, &act, &mut d_act, rows, h, i, false);
    let (mut d_gate, mut d_up) = (act, vec![0f32; rows * i]);
    swiglu_backward(&d_act, &gate, &up, &mut d_gate, &mut d_up);
    drop((d_act, gate, up));
    let mut normed = vec![0f32; rows * h];
    let mut scratch = vec![0f32; rows];
    rms_norm(&mid, w.post_norm.w, s.eps, &mut normed, &mut scratch);
    let mut d_normed = vec![0f32; rows * h];
    w.gate.backward(&mut g.gate, &d_gate, &normed, &mut d_normed, rows, i, h, false);
    w.up.backward(&mut g.up, &d_up, &normed, &mut d_normed, rows, i, h, true);
    drop((d_gate, d_up));
    let mut d_mid = d_out.to_vec();
    rms_norm_backward(&d_normed, &mid, w.post_norm.w, &inv_rms2, &mut d_mid, g.post_norm.w.as_deref_mut());
    drop(mid);

    // Attention: mid = input + o(attn), attn from q, k, v of norm1(input).
    let mut attn_tokens = resized(normed, rows * s.q_width());
    from_heads(&attn, &mut attn_tokens, s.q_width(), 0, s.time, s.heads, s.head_dim);
    let mut d_attn_tokens = resized(d_normed, rows * s.q_width());
    w.o.backward(&mut g.o, &d_mid, &attn_tokens, &mut d_attn_tokens, rows, h, s.q_width(), false);
    let mut d_attn = vec![0f32; attn.len()];
    to_heads(&d_attn_tokens, s.q_width(), 0, &mut d_attn, s.time, s.heads, s.head_dim);
    let mut dq = vec![0f32; q.len()];
    let (mut dk_heads, mut dv_heads) = (vec![0f32; k.len()], vec![0f32; v.len()]);
    flash_attention::backward(s.dims(), &q, s.kv(&k), s.kv(&v), &pos.spans, 1.0 / (s.head_dim as f64).sqrt(), &attn, &lse, &d_attn, &mut dq, &mut dk_heads, &mut dv_heads);
    drop((q, k, v, attn, lse, d_attn));
    let mut dq_tokens = d_attn_tokens;
    from_heads(&dq, &mut dq_tokens, s.q_width(), 0, s.time, s.heads, s.head_dim);
    let (mut dk, mut dv) = (vec![0f32; dk_heads.len()], vec![0f32; dv_heads.len()]);
    from_heads(&dk_heads, &mut dk, s.kv_width(), 0, s.time, s.kv_heads, s.head_dim);
    from_heads(&dv_heads, &mut dv, s.kv_width(), 0, s.time, s.kv_heads, s.head_dim);
    pos.rotate(&mut dq_tokens, s.heads, s.head_dim, true);
    pos.rotate(&mut dk, s.kv_heads, s.head_dim, true);

    let mut normed = resized(attn_tokens, rows * h);
    rms_norm(&input, w.input_norm.w, s.eps, &mut normed, &mut scratch);
    let mut d_normed = resized(dq, rows * h);
    w.q.backward(&mut g.q, &dq_tokens, &normed, &mut d_normed, rows, s.q_width(), h, false);
    w.k.backward(&mut g.k, &dk, &normed, &mut d_normed, rows, s.kv_width(), h, true);
    w.v.backward(&mut g.v, &dv, &normed, &mut d_normed, rows, s.kv_width(), h, true);
    let mut d_input = d_mid;
    rms_norm_backward(&d_normed, &input, w.input_norm.w, &inv_rms1, &mut d_input, g.input_norm.w.as_deref_mut());
    d_input
}

/// `buffer` again for a result of `len` values that overwrites it whole, or a new one when
/// the sizes differ (a model whose heads x head_dim is not its hidden size).
fn resized(buffer: Vec<f32>, len: usize) -> Vec<f32> {
    if buffer.len() == len {
        buffer
    } else {
        vec![0f32; len]
    }
}

//! What comes before and after the decoder blocks, for both architectures: the blocks'
//! input (token embedding rows, plus GPT-2's learned position rows) and the final norm
//! (RMSNorm, or GPT-2's LayerNorm), forward and backward.

use super::gpt2;
use super::linear::{Grads, Weight};
use super::ops::{rms_norm, rms_norm_backward};
use super::weights::Indices;
use crate::model::{Architecture, ModelConfig};

/// The model's weights (in `weight_names` order) around its blocks.
pub(crate) struct Ends<'w, 'a> {
    arch: Architecture,
    weights: &'w [Weight<'a>],
    at: Indices,
    hidden: usize,
    eps: f64,
}

impl<'w, 'a> Ends<'w, 'a> {
    pub fn new(config: &ModelConfig, weights: &'w [Weight<'a>]) -> Self {
        Ends { arch: config.architecture, weights, at: Indices::new(config), hidden: config.hidden_size, eps: config.norm_eps }
    }

    /// The first block's input for the tokens `ids` at the positions `of_row`.
    pub fn embed(&self, ids: &[u32], of_row: &[u32]) -> Vec<f32> {
        let mut x = vec![0f32; ids.len() * self.hidden];
        self.add_rows(&mut x, self.weights[self.at.embed].w, ids);
        if self.arch == Architecture::Gpt2 {
            self.add_rows(&mut x, self.weights[self.at.extra].w, of_row);
        }
        x
    }

    /// Adds the gradient of the embedding tables (those that train) for `dx`, the gradient
    /// of `embed`'s output.
    pub fn embed_backward(&self, grads: &mut [Grads], ids: &[u32], of_row: &[u32], dx: &[f32]) {
        if let Some(g) = grads[self.at.embed].w.as_deref_mut() {
            scatter_rows(g, ids, dx, self.hidden);
        }
        if self.arch == Architecture::Gpt2 {
            if let Some(g) = grads[self.at.extra].w.as_deref_mut() {
                scatter_rows(g, of_row, dx, self.hidden);
            }
        }
    }

    /// The final norm of the last block's output `x`, and the statistics its backward reads.
    pub fn final_norm(&self, x: &[f32]) -> (Vec<f32>, [Vec<f32>; 2]) {
        let (rows, w) = (x.len() / self.hidden, &self.weights[self.at.norm]);
        match self.arch {
            Architecture::Gpt2 => gpt2::final_norm(x, w, self.eps, rows),
            Architecture::Llama => {
                let mut out = vec![0f32; x.len()];
                let mut inv_rms = vec![0f32; rows];
                rms_norm(x, w.w, self.eps, &mut out, &mut inv_rms);
                (out, [inv_rms, Vec::new()])
            }
        }
    }

    /// The gradient of `x` from that of the final norm's output; adds the norm's own.
    pub fn final_norm_backward(&self, grads: &mut [Grads], d_hidden: &[f32], x: &[f32], stats: &[Vec<f32>; 2]) -> Vec<f32> {
        let (w, g) = (&self.weights[self.at.norm], &mut grads[self.at.norm]);
        match self.arch {
            Architecture::Gpt2 => gpt2::final_norm_backward(d_hidden, x, w, g, stats),
            Architecture::Llama => {
                let mut dx = vec![0f32; x.len()];
                rms_norm_backward(d_hidden, x, w.w, &stats[0], &mut dx, g.w.as_deref_mut());
                dx
            }
        }
    }

    /// x[i] += table[ids[i]], row by row.
    fn add_rows(&self, x: &mut [f32], table: &[f32], ids: &[u32]) {
        let h = self.hidden;
        for (row, &id) in x.chunks_mut(h).zip(ids) {
            row.iter_mut().zip(&table[id as usize * h..(id as usize + 1) * h]).for_each(|(x, e)| *x += e);
        }
    }
}

/// Adds each row of `dx` to the gradient row of its id.
fn scatter_rows(d_table: &mut [f32], ids: &[u32], dx: &[f32], hidden: usize) {
    for (row, &id) in dx.chunks(hidden).zip(ids) {
        let target = &mut d_table[id as usize * hidden..(id as usize + 1) * hidden];
        target.iter_mut().zip(row).for_each(|(t, d)| *t += d);
    }
}

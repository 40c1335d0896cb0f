//! GPT-2: learned position embeddings, pre-LayerNorm blocks, tanh-GELU MLP, lm_head tied
//! to the token embedding. Weights keep HuggingFace's names and its Conv1D [in, out]
//! layout.

use candle_core::Tensor;

use super::decoder::{weight, Context};
use super::layers::{adapted_linear, attention, embed, layer_norm, split_heads, LoraFactors, WeightLayout};
use super::{ModelConfig, Weights};
use crate::error::Result;
use crate::generate::kv_cache::KvCache;

/// A Conv1D layer: weight [in, out], bias [out], optional LoRA adapter.
struct Conv1D {
    w: Tensor,
    b: Tensor,
    lora: Option<LoraFactors>,
}

impl Conv1D {
    fn load(weights: &Weights, prefix: &str) -> Result<Self> {
        Ok(Conv1D { w: weight(weights, &format!("{prefix}.weight"))?, b: weight(weights, &format!("{prefix}.bias"))?, lora: LoraFactors::load(weights, prefix) })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        adapted_linear(x, &self.w, Some(&self.b), self.lora.as_ref(), WeightLayout::InOut)
    }
}

struct LayerNorm {
    w: Tensor,
    b: Tensor,
    eps: f64,
}

impl LayerNorm {
    fn load(weights: &Weights, prefix: &str, eps: f64) -> Result<Self> {
        Ok(LayerNorm { w: weight(weights, &format!("{prefix}.weight"))?, b: weight(weights, &format!("{prefix}.bias"))?, eps })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        layer_norm(x, &self.w, &self.b, self.eps)
    }
}

struct Block {
    ln_1: LayerNorm,
    c_attn: Conv1D,
    attn_proj: Conv1D,
    ln_2: LayerNorm,
    c_fc: Conv1D,
    mlp_proj: Conv1D,
}

pub struct Gpt2 {
    pub config: ModelConfig,
    wte: Tensor,
    wpe: Tensor,
    blocks: Vec<Block>,
    ln_f: LayerNorm,
    /// The output projection [vocab, hidden]: the token embedding itself.
    pub lm_head: Tensor,
}

impl Gpt2 {
    pub fn new(config: &ModelConfig, weights: &Weights) -> Result<Self> {
        let eps = config.norm_eps;
        let blocks = (0..config.num_layers)
            .map(|l| {
                let p = format!("transformer.h.{l}");
                Ok(Block {
                    ln_1: LayerNorm::load(weights, &format!("{p}.ln_1"), eps)?,
                    c_attn: Conv1D::load(weights, &format!("{p}.attn.c_attn"))?,
                    attn_proj: Conv1D::load(weights, &format!("{p}.attn.c_proj"))?,
                    ln_2: LayerNorm::load(weights, &format!("{p}.ln_2"), eps)?,
                    c_fc: Conv1D::load(weights, &format!("{p}.mlp.c_fc"))?,
                    mlp_proj: Conv1D::load(weights, &format!("{p}.mlp.c_proj"))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let wte = weight(weights, "transformer.wte.weight")?;
        Ok(Gpt2 {
            config: config.clone(),
            lm_head: wte.clone(),
            wte,
            wpe: weight(weights, "transformer.wpe.weight")?,
            blocks,
            ln_f: LayerNorm::load(weights, "transformer.ln_f", eps)?,
        })
    }

    /// Final hidden states [batch, time, hidden].
    pub fn forward(&self, ids: &Tensor, ctx: &Context, mut cache: Option<&mut KvCache>) -> Result<Tensor> {
        let mut x = self.embed(ids, ctx)?;
        for layer in 0..self.blocks.len() {
            x = self.block(layer, &x, ctx, cache.as_deref_mut())?;
        }
        self.final_norm(&x)
    }

    /// Token plus position embeddings.
    pub fn embed(&self, ids: &Tensor, ctx: &Context) -> Result<Tensor> {
        Ok((embed(&self.wte, ids)? + embed(&self.wpe, &ctx.positions)?)?)
    }

    /// One transformer block: [batch, time, hidden] -> [batch, time, hidden].
    pub fn block(&self, layer: usize, x: &Tensor, ctx: &Context, cache: Option<&mut KvCache>) -> Result<Tensor> {
        let block = &self.blocks[layer];
        let x = (x + self.attend(block, &block.ln_1.forward(x)?, ctx, cache, layer)?)?;
        let h = block.ln_2.forward(&x)?;
        Ok((&x + block.mlp_proj.forward(&block.c_fc.forward(&h)?.gelu()?)?)?)
    }

    pub fn final_norm(&self, x: &Tensor) -> Result<Tensor> {
        self.ln_f.forward(x)
    }

    fn attend(&self, block: &Block, h: &Tensor, ctx: &Context, cache: Option<&mut KvCache>, layer: usize) -> Result<Tensor> {
        let (heads, width) = (self.config.num_heads, self.config.hidden_size);
        let qkv = block.c_attn.forward(h)?;
        let q = split_heads(&qkv.narrow(2, 0, width)?, heads)?;
        let k = split_heads(&qkv.narrow(2, width, width)?, heads)?;
        let v = split_heads(&qkv.narrow(2, 2 * width, width)?, heads)?;
        let (k, v) = match cache {
            Some(c) => c.update(layer, &k, &v)?,
            None => (k, v),
        };
        block.attn_proj.forward(&attention(&q, &k, &v, ctx)?)
    }
}

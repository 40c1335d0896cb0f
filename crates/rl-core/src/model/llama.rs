//! The Llama family (Llama, SmolLM2, TinyLlama, Qwen2, Mistral): RMSNorm, rotary
//! positions (with optional linear or Llama 3 frequency scaling), SwiGLU MLP,
//! grouped-query attention, optional q/k/v biases, tied or separate lm_head.

use candle_core::{Device, Tensor};

use super::decoder::{weight, Context};
use super::layers::{adapted_linear, attention, embed, rms_norm, rope, split_heads, LoraFactors, WeightLayout};
use super::{ModelConfig, RopeScaling, Weights};
use crate::error::Result;
use crate::generate::kv_cache::KvCache;

/// A Linear layer: weight [out, in], optional bias [out], optional LoRA adapter.
struct Linear {
    w: Tensor,
    b: Option<Tensor>,
    lora: Option<LoraFactors>,
}

impl Linear {
    fn load(weights: &Weights, prefix: &str, bias: bool) -> Result<Self> {
        let b = if bias { Some(weight(weights, &format!("{prefix}.bias"))?) } else { None };
        Ok(Linear { w: weight(weights, &format!("{prefix}.weight"))?, b, lora: LoraFactors::load(weights, prefix) })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        adapted_linear(x, &self.w, self.b.as_ref(), self.lora.as_ref(), WeightLayout::OutIn)
    }
}

struct Block {
    input_norm: Tensor,
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    o_proj: Linear,
    post_attention_norm: Tensor,
    gate_proj: Linear,
    up_proj: Linear,
    down_proj: Linear,
}

pub struct Llama {
    pub config: ModelConfig,
    embed_tokens: Tensor,
    blocks: Vec<Block>,
    norm: Tensor,
    /// The output projection [vocab, hidden] (the token embedding when tied).
    pub lm_head: Tensor,
    /// cos and sin of every position's rotation angles, [max_positions, head_dim / 2].
    rope_cos: Tensor,
    rope_sin: Tensor,
}

impl Llama {
    pub fn new(config: &ModelConfig, weights: &Weights) -> Result<Self> {
        let bias = config.attention_bias;
        let blocks = (0..config.num_layers)
            .map(|l| {
                let p = format!("model.layers.{l}");
                Ok(Block {
                    input_norm: weight(weights, &format!("{p}.input_layernorm.weight"))?,
                    q_proj: Linear::load(weights, &format!("{p}.self_attn.q_proj"), bias)?,
                    k_proj: Linear::load(weights, &format!("{p}.self_attn.k_proj"), bias)?,
                    v_proj: Linear::load(weights, &format!("{p}.self_attn.v_proj"), bias)?,
                    o_proj: Linear::load(weights, &format!("{p}.self_attn.o_proj"), false)?,
                    post_attention_norm: weight(weights, &format!("{p}.post_attention_layernorm.weight"))?,
                    gate_proj: Linear::load(weights, &format!("{p}.mlp.gate_proj"), false)?,
                    up_proj: Linear::load(weights, &format!("{p}.mlp.up_proj"), false)?,
                    down_proj: Linear::load(weights, &format!("{p}.mlp.down_proj"), false)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let embed_tokens = weight(weights, "model.embed_tokens.weight")?;
        let lm_head = if config.tie_word_embeddings { embed_tokens.clone() } else { weight(weights, "lm_head.weight")? };
        let (rope_cos, rope_sin) = rope_tables(config)?;
        let (rope_cos, rope_sin) = (rope_cos.to_dtype(lm_head.dtype())?, rope_sin.to_dtype(lm_head.dtype())?);
        Ok(Llama { config: config.clone(), embed_tokens, blocks, norm: weight(weights, "model.norm.weight")?, lm_head, rope_cos, rope_sin })
    }

    /// Final hidden states [batch, time, hidden].
    pub fn forward(&self, ids: &Tensor, ctx: &Context, mut cache: Option<&mut KvCache>) -> Result<Tensor> {
        let mut x = self.embed(ids)?;
        for layer in 0..self.blocks.len() {
            x = self.block(layer, &x, ctx, cache.as_deref_mut())?;
        }
        self.final_norm(&x)
    }

    pub fn embed(&self, ids: &Tensor) -> Result<Tensor> {
        embed(&self.embed_tokens, ids)
    }

    /// One transformer block: [batch, time, hidden] -> [batch, time, hidden].
    pub fn block(&self, layer: usize, x: &Tensor, ctx: &Context, cache: Option<&mut KvCache>) -> Result<Tensor> {
        let (eps, block) = (self.config.norm_eps, &self.blocks[layer]);
        let h = rms_norm(x, &block.input_norm, eps)?;
        let x = (x + self.attend(block, &h, ctx, cache, layer)?)?;
        let h = rms_norm(&x, &block.post_attention_norm, eps)?;
        let gated = (block.gate_proj.forward(&h)?.silu()? * block.up_proj.forward(&h)?)?;
        Ok((&x + block.down_proj.forward(&gated)?)?)
    }

    pub fn final_norm(&self, x: &Tensor) -> Result<Tensor> {
        rms_norm(x, &self.norm, self.config.norm_eps)
    }

    /// cos and sin of each token's rotation angles, [batch, time, head_dim / 2].
    fn rotation(&self, ctx: &Context) -> Result<(Tensor, Tensor)> {
        let (batch, time) = ctx.positions.dims2()?;
        let half = self.config.head_dim / 2;
        let flat = ctx.positions.flatten_all()?;
        let cos = self.rope_cos.index_select(&flat, 0)?.reshape((batch, time, half))?;
        let sin = self.rope_sin.index_select(&flat, 0)?.reshape((batch, time, half))?;
        Ok((cos, sin))
    }

    fn attend(&self, block: &Block, h: &Tensor, ctx: &Context, cache: Option<&mut KvCache>, layer: usize) -> Result<Tensor> {
        let c = &self.config;
        let (cos, sin) = self.rotation(ctx)?;
        let q = rope(&split_heads(&block.q_proj.forward(h)?, c.num_heads)?, &cos, &sin)?;
        let k = rope(&split_heads(&block.k_proj.forward(h)?, c.num_kv_heads)?, &cos, &sin)?;
        let v = split_heads(&block.v_proj.forward(h)?, c.num_kv_heads)?;
        let (k, v) = match cache {
            Some(cache) => cache.update(layer, &k, &v)?,
            None => (k, v),
        };
        block.o_proj.forward(&attention(&q, &k, &v, ctx)?)
    }
}

/// Rotation frequencies theta^(-2i/d), rescaled as the config asks.
pub(crate) fn inverse_frequencies(c: &ModelConfig) -> Vec<f64> {
    let d = c.head_dim as f64;
    let base: Vec<f64> = (0..c.head_dim / 2).map(|i| c.rope_theta.powf(-((2 * i) as f64) / d)).collect();
    match &c.rope_scaling {
        None => base,
        Some(RopeScaling::Linear { factor }) => base.iter().map(|f| f / factor).collect(),
        Some(RopeScaling::Llama3 { factor, low_freq_factor, high_freq_factor, original_max_position_embeddings }) => {
            // Long wavelengths (low frequencies) are slowed by `factor`, short ones kept,
            // and the band in between interpolates smoothly.
            let old = *original_max_position_embeddings as f64;
            let (low_wavelen, high_wavelen) = (old / low_freq_factor, old / high_freq_factor);
            base.iter()
                .map(|&f| {
                    let wavelen = 2.0 * std::f64::consts::PI / f;
                    if wavelen > low_wavelen {
                        f / factor
                    } else if wavelen < high_wavelen {
                        f
                    } else {
                        let smooth = (old / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor);
                        (1.0 - smooth) * f / factor + smooth * f
                    }
                })
                .collect()
        }
    }
}

fn rope_tables(c: &ModelConfig) -> Result<(Tensor, Tensor)> {
    let inv = inverse_frequencies(c);
    let n = c.max_position_embeddings;
    let angles: Vec<f64> = (0..n).flat_map(|p| inv.iter().map(move |f| p as f64 * f)).collect();
    let table = |g: fn(f64) -> f64| Tensor::from_vec(angles.iter().map(|&a| g(a) as f32).collect::<Vec<f32>>(), (n, inv.len()), &Device::Cpu);
    Ok((table(f64::cos)?, table(f64::sin)?))
}

//! Bindings of `rl_core::loss`. Token arrays are borrowed from JavaScript typed arrays;
//! metric names stay snake_case, as they appear in training logs.

use napi::bindgen_prelude::Float32Array;
use napi_derive::napi;
use rl_core::loss as core;

use crate::errors::to_napi;

/// Every field filled: `src/algorithms/loss-options.ts` applies the defaults.
#[napi(object)]
pub struct PolicyLossConfig {
    pub loss: String,
    pub eps_low: f64,
    pub eps_high: f64,
    pub dual_clip: Option<f64>,
    pub aggregation: String,
    pub max_completion_length: Option<u32>,
    pub beta: f64,
    pub kl_estimator: String,
}

#[napi(object)]
pub struct LossNormalizer {
    pub tokens: u32,
    pub sequences: u32,
    pub max_length: u32,
}

#[napi(object)]
pub struct PolicyLossMetrics {
    #[napi(js_name = "policy_loss")]
    pub policy_loss: f64,
    pub kl: f64,
    #[napi(js_name = "clip_frac")]
    pub clip_frac: f64,
    #[napi(js_name = "clip_frac_low")]
    pub clip_frac_low: f64,
    #[napi(js_name = "clip_frac_high")]
    pub clip_frac_high: f64,
    #[napi(js_name = "dual_clip_frac")]
    pub dual_clip_frac: f64,
    #[napi(js_name = "ratio_mean")]
    pub ratio_mean: f64,
    #[napi(js_name = "ratio_min")]
    pub ratio_min: f64,
    #[napi(js_name = "ratio_max")]
    pub ratio_max: f64,
    pub tokens: u32,
}

#[napi(object)]
pub struct PolicyLossResult {
    pub loss: f64,
    pub metrics: PolicyLossMetrics,
    /// d loss / d logprobs, when asked for.
    pub grad: Option<Float32Array>,
}

impl PolicyLossConfig {
    pub(crate) fn to_core(&self) -> rl_core::error::Result<core::LossConfig> {
        Ok(core::LossConfig {
            kind: core::LossKind::parse(&self.loss)?,
            eps_low: self.eps_low,
            eps_high: self.eps_high,
            dual_clip: self.dual_clip,
            aggregation: core::Aggregation::parse(&self.aggregation)?,
            max_completion_length: self.max_completion_length.map(|l| l as usize),
            beta: self.beta,
            kl_estimator: core::KlEstimator::parse(&self.kl_estimator)?,
        })
    }
}

#[napi(catch_unwind)]
#[allow(clippy::too_many_arguments)]
pub fn compute_policy_loss(
    logprobs: &[f32],
    old_logprobs: Option<&[f32]>,
    ref_logprobs: Option<&[f32]>,
    advantages: Option<&[f32]>,
    mask: &[u8],
    offsets: Option<&[i32]>,
    config: PolicyLossConfig,
    normalizer: Option<LossNormalizer>,
    return_grad: bool,
) -> napi::Result<PolicyLossResult> {
    let config = config.to_core().map_err(to_napi)?;
    let normalizer = normalizer.map(|n| core::Normalizer {
        tokens: n.tokens as usize,
        sequences: n.sequences as usize,
        max_length: n.max_length as usize,
    });
    let input = core::LossInput { logprobs, old_logprobs, ref_logprobs, advantages, mask, offsets, normalizer };
    let out = core::compute_policy_loss(&input, &config).map_err(to_napi)?;
    Ok(PolicyLossResult { loss: out.loss, metrics: out.metrics.into(), grad: return_grad.then(|| Float32Array::new(out.grad)) })
}

impl From<core::LossMetrics> for PolicyLossMetrics {
    fn from(m: core::LossMetrics) -> Self {
        PolicyLossMetrics {
            policy_loss: m.policy_loss,
            kl: m.kl,
            clip_frac: m.clip_frac,
            clip_frac_low: m.clip_frac_low,
            clip_frac_high: m.clip_frac_high,
            dual_clip_frac: m.dual_clip_frac,
            ratio_mean: m.ratio_mean,
            ratio_min: m.ratio_min,
            ratio_max: m.ratio_max,
            tokens: m.tokens as u32,
        }
    }
}

/**
 * Policy losses written as plainly as ALGORITHMS.md section 3 states them, with the
 * gradient with respect to each token's log-prob derived by hand. The executable
 * specification the native core is tested against.
 */
import { fail } from '../../core/errors.js';
import {
  policyLossArgs,
  type LossNormalizer,
  type PolicyLossMetrics,
  type PolicyLossOptions,
  type PolicyLossResult,
  type ResolvedLossConfig,
} from '../loss-options.js';
import { checkLength, checkOffsets, checkRange } from './checks.js';

const LOG_RATIO_CLAMP = 20;
const GSPO_LOG_RATIO_MAX = 10;

export function computePolicyLoss(options: PolicyLossOptions): PolicyLossResult {
  const args = policyLossArgs(options);
  const { logprobs, mask, config } = args;
  const len = logprobs.length;
  checkConfig(config);
  checkLength('mask', mask.length, 'logprobs', len);
  const bounds = args.offsets ?? Int32Array.of(0, len);
  checkOffsets(bounds, len);
  const n = bounds.length - 1;
  const needsRollout = config.loss !== 'sft';
  const byLoss = `by loss '${config.loss}'`;
  const old = required('oldLogprobs', args.oldLogprobs, needsRollout, byLoss, 'the log-probs recorded at rollout time');
  const advantages = required('advantages', args.advantages, needsRollout, byLoss, 'one advantage per token or per sequence');
  const ref = required('refLogprobs', args.refLogprobs, config.beta > 0, `by beta ${config.beta}`, "the reference policy's log-probs, or set beta to 0");
  for (const [name, values] of [['logprobs', logprobs], ['oldLogprobs', old], ['refLogprobs', ref]] as const) {
    if (!values) continue;
    checkLength(name, values.length, 'logprobs', len);
    values.forEach((v, i) => mask[i] && checkFinite(name, i, v, 'at a loss token'));
  }
  const counts = Array.from({ length: n }, (_, k) => mask.subarray(bounds[k], bounds[k + 1]).reduce((a, m) => a + (m ? 1 : 0), 0));
  let advantageAt = (_k: number, _t: number) => 0;
  if (advantages && advantages.length === len) {
    advantages.forEach((v, i) => mask[i] && checkFinite('advantages', i, v, 'at a loss token'));
    advantageAt = (_k, t) => advantages[t];
  } else if (advantages && advantages.length === n) {
    counts.forEach((c, k) => c > 0 && checkFinite('advantages', k, advantages[k], 'of a sequence with loss tokens'));
    advantageAt = (k) => advantages[k];
  } else if (advantages) {
    fail(
      'ERR_LENGTH_MISMATCH',
      `advantages has length ${advantages.length} but there are ${len} tokens in ${n} sequences; give one advantage per token or one per sequence`,
    );
  }
  const local: LossNormalizer = {
    tokens: counts.reduce((a, c) => a + c, 0),
    sequences: counts.filter((c) => c > 0).length,
    maxLength: config.maxCompletionLength ?? counts.reduce((a, c) => Math.max(a, c), 0),
  };
  const norm = args.normalizer ?? local;
  if (args.normalizer) checkCovers(args.normalizer, local);

  const grad = new Float64Array(len);
  let policyLoss = 0;
  let kl = 0;
  const ratios: number[] = [];
  const regions = { low: 0, high: 0, dual: 0 };
  for (let k = 0; k < n; k++) {
    if (counts[k] === 0) continue;
    const w = weight(config, norm, counts[k]);
    const tokens: number[] = [];
    for (let t = bounds[k]; t < bounds[k + 1]; t++) if (mask[t]) tokens.push(t);

    if (config.loss === 'token_clip') {
      for (const t of tokens) {
        const raw = logprobs[t] - old![t];
        const logRatio = Math.min(Math.max(raw, -LOG_RATIO_CLAMP), LOG_RATIO_CLAMP);
        const r = Math.exp(logRatio);
        const s = surrogate(r, advantageAt(k, t), config, regions);
        policyLoss += w * s.loss;
        if (logRatio === raw) grad[t] += w * s.dLogRatio;
        ratios.push(r);
      }
    } else if (config.loss === 'cispo') {
      // -sg(clip(r, 1 - epsLow, 1 + epsHigh)) * A * logp: the weight is a constant, so the
      // gradient is -w * A on every loss token, clipped or not.
      for (const t of tokens) {
        const r = Math.exp(Math.min(Math.max(logprobs[t] - old![t], -LOG_RATIO_CLAMP), LOG_RATIO_CLAMP));
        let weight = r;
        if (r > 1 + config.epsHigh) {
          weight = 1 + config.epsHigh;
          regions.high++;
        } else if (r < 1 - config.epsLow) {
          weight = 1 - config.epsLow;
          regions.low++;
        }
        const coefficient = -weight * advantageAt(k, t);
        policyLoss += w * coefficient * logprobs[t];
        grad[t] += w * coefficient;
        ratios.push(r);
      }
    } else if (config.loss === 'sft') {
      for (const t of tokens) {
        policyLoss -= w * logprobs[t];
        grad[t] -= w;
        ratios.push(1);
      }
    } else {
      // GSPO: s_i = exp(mean log-ratio). 'gspo' differentiates through s_i (each token gets
      // 1/|o_i| of the sequence's derivative); 'gspo_token' uses sg[s_i] * p_t / sg[p_t].
      const raw = tokens.reduce((a, t) => a + (logprobs[t] - old![t]), 0) / counts[k];
      const logS = Math.min(raw, GSPO_LOG_RATIO_MAX);
      const sRatio = Math.exp(logS);
      let dLogS = 0;
      for (const t of tokens) {
        const s = surrogate(sRatio, advantageAt(k, t), config, regions);
        policyLoss += w * s.loss;
        if (config.loss === 'gspo_token') grad[t] += w * s.dLogRatio;
        else dLogS += w * s.dLogRatio;
        ratios.push(sRatio);
      }
      if (config.loss === 'gspo' && logS === raw) for (const t of tokens) grad[t] += dLogS / counts[k];
    }

    if (ref) {
      for (const t of tokens) {
        const [value, dValue] = klTerm(config.klEstimator, logprobs[t], ref[t]);
        kl += w * value;
        grad[t] += config.beta * w * dValue;
      }
    }
  }

  const tokens = ratios.length;
  const frac = (c: number) => (tokens === 0 ? 0 : c / tokens);
  const metrics: PolicyLossMetrics = {
    policy_loss: policyLoss,
    kl,
    clip_frac: frac(regions.low + regions.high + regions.dual),
    clip_frac_low: frac(regions.low),
    clip_frac_high: frac(regions.high),
    dual_clip_frac: frac(regions.dual),
    ratio_mean: tokens === 0 ? 1 : ratios.reduce((a, r) => a + r, 0) / tokens,
    ratio_min: tokens === 0 ? 1 : ratios.reduce((a, r) => Math.min(a, r)),
    ratio_max: tokens === 0 ? 1 : ratios.reduce((a, r) => Math.max(a, r)),
    tokens,
  };
  const result: PolicyLossResult = { loss: policyLoss + config.beta * kl, metrics };
  if (args.returnGrad) result.grad = Float32Array.from(grad);
  return result;
}

/** -min(r A, clip(r, 1 - epsLow, 1 + epsHigh) A), capped at -A c by dual-clip; d/d log r. */
function surrogate(r: number, a: number, c: ResolvedLossConfig, regions: { low: number; high: number; dual: number }) {
  const flat = (bound: number) => ({ loss: -a * bound, dLogRatio: 0 });
  if (a > 0 && r > 1 + c.epsHigh) {
    regions.high++;
    return flat(1 + c.epsHigh);
  }
  if (a < 0 && c.dualClip !== undefined && r > c.dualClip) {
    regions.dual++;
    return flat(c.dualClip);
  }
  if (a < 0 && r < 1 - c.epsLow) {
    regions.low++;
    return flat(1 - c.epsLow);
  }
  return { loss: -a * r, dLogRatio: -a * r };
}

/** KL estimate at one token, d = logp_ref - logp (clamped), and its derivative in logp. */
export function klTerm(estimator: ResolvedLossConfig['klEstimator'], logp: number, refLogp: number): [number, number] {
  const raw = refLogp - logp;
  const d = Math.min(Math.max(raw, -LOG_RATIO_CLAMP), LOG_RATIO_CLAMP);
  const dd = d === raw ? -1 : 0;
  if (estimator === 'k1') return [-d, -dd];
  if (estimator === 'k2') return [(d * d) / 2, d * dd];
  return [Math.exp(d) - d - 1, (Math.exp(d) - 1) * dd];
}

/** The aggregation weight of each loss token of a sequence holding `count` of them. */
function weight(c: ResolvedLossConfig, n: LossNormalizer, count: number): number {
  switch (c.aggregation) {
    case 'token-mean':
      return 1 / n.tokens;
    case 'seq-mean-token-mean':
      return 1 / (n.sequences * count);
    case 'seq-mean-token-sum':
      return 1 / n.sequences;
    case 'seq-mean-token-sum-norm':
      return 1 / (n.sequences * n.maxLength);
  }
}

function checkConfig(c: ResolvedLossConfig): void {
  checkRange('epsLow', c.epsLow, 0, 1);
  checkRange('epsHigh', c.epsHigh, 0, 10);
  if (c.dualClip !== undefined) {
    if (!(Number.isFinite(c.dualClip) && c.dualClip > 1)) {
      fail('ERR_INVALID_PARAMETER', `dualClip must be a finite number greater than 1 (3 is usual), got ${c.dualClip}`);
    }
    if (c.loss !== 'token_clip') fail('ERR_INVALID_PARAMETER', `dualClip applies to loss 'token_clip' only, not '${c.loss}'; remove it`);
  }
  if (c.loss === 'gspo' && c.aggregation !== 'seq-mean-token-mean') {
    fail(
      'ERR_INVALID_PARAMETER',
      `loss 'gspo' is defined with aggregation 'seq-mean-token-mean', got '${c.aggregation}'; use 'gspo_token' for other aggregations`,
    );
  }
  if (c.maxCompletionLength === 0) fail('ERR_INVALID_PARAMETER', 'maxCompletionLength must be a positive integer, got 0');
  if (!(Number.isFinite(c.beta) && c.beta >= 0)) fail('ERR_INVALID_PARAMETER', `beta must be a finite number >= 0, got ${c.beta}`);
}

function required<T>(name: string, value: T | undefined, needed: boolean, by: string, what: string): T | undefined {
  if (needed && value === undefined) fail('ERR_INVALID_ARGUMENT', `${name} is required ${by}; pass ${what}`);
  return value;
}

function checkFinite(name: string, index: number, value: number, place: string): void {
  if (!Number.isFinite(value)) {
    fail(
      'ERR_NON_FINITE',
      `${name}[${index}] is ${value} ${place}; every value the loss reads must be finite (drop or zero the sample that produced it)`,
    );
  }
}

function checkCovers(n: LossNormalizer, local: LossNormalizer): void {
  if (n.tokens < local.tokens || n.sequences < local.sequences) {
    fail(
      'ERR_INVALID_PARAMETER',
      `the normalizer counts ${n.tokens} tokens in ${n.sequences} sequences but this batch alone has ${local.tokens} tokens in ` +
        `${local.sequences} sequences; compute it from the whole optimizer batch`,
    );
  }
  if (local.tokens > 0 && n.maxLength === 0) fail('ERR_INVALID_PARAMETER', "the normalizer's maxLength must be positive");
}

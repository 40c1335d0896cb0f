// The native loss against the TypeScript reference on random batches (1e-5), and the
// gradient against central finite differences of the loss (relative error <= 1e-3).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computePolicyLoss, reference, type KlEstimator, type LossAggregation, type PolicyLossConfig, type PolicyLossOptions } from '../src/index.js';
import { assertClose, rng } from './helpers/random.js';

const AGGREGATIONS: LossAggregation[] = ['token-mean', 'seq-mean-token-mean', 'seq-mean-token-sum', 'seq-mean-token-sum-norm'];
const ESTIMATORS: KlEstimator[] = ['k1', 'k2', 'k3'];

/** Random sequences (some fully masked) with per-sequence ratio shifts of about +-spread. */
function batch(seed: number, sequences: number, spread: number, perSequenceAdvantages: boolean): PolicyLossOptions {
  const random = rng(seed);
  const u = (lo: number, hi: number) => lo + (hi - lo) * random();
  const logprobs: number[] = [], oldLogprobs: number[] = [], refLogprobs: number[] = [], advantages: number[] = [], mask: number[] = [];
  const offsets = [0];
  for (let k = 0; k < sequences; k++) {
    const length = 1 + Math.floor(u(0, 12));
    const shift = u(-spread, spread);
    const empty = random() < 0.15;
    if (perSequenceAdvantages) advantages.push(u(-1, 1));
    for (let t = 0; t < length; t++) {
      const old = u(-4, -0.05);
      oldLogprobs.push(old);
      logprobs.push(old + shift + u(-spread, spread) / 2);
      refLogprobs.push(old + u(-1, 1));
      mask.push(!empty && random() < 0.8 ? 1 : 0);
      if (!perSequenceAdvantages) advantages.push(u(-1, 1));
    }
    offsets.push(logprobs.length);
  }
  const f = (v: number[]) => Float32Array.from(v);
  return { logprobs: f(logprobs), oldLogprobs: f(oldLogprobs), refLogprobs: f(refLogprobs), advantages: f(advantages), mask: Uint8Array.from(mask), offsets: Int32Array.from(offsets) };
}

const configs: PolicyLossConfig[] = [];
for (const aggregation of AGGREGATIONS) {
  for (const klEstimator of ESTIMATORS) {
    configs.push({ loss: 'token_clip', aggregation, klEstimator, beta: 0.2, dualClip: 3 });
    configs.push({ loss: 'gspo_token', aggregation, klEstimator, beta: 0.2, epsLow: 0.05, epsHigh: 0.05 });
    configs.push({ loss: 'sft', aggregation, klEstimator, beta: 0.2 });
    configs.push({ loss: 'cispo', aggregation, klEstimator, beta: 0.2, epsLow: 0.2, epsHigh: 0.2 });
  }
  configs.push({ loss: 'cispo', aggregation });
  configs.push({ loss: 'token_clip', aggregation, epsHigh: 0.28, maxCompletionLength: 16 });
}
for (const klEstimator of ESTIMATORS) configs.push({ loss: 'gspo', klEstimator, beta: 0.1, epsLow: 0.05, epsHigh: 0.05 });

test('native matches the reference on random batches, in every configuration', () => {
  for (const [i, config] of configs.entries()) {
    for (const perSequence of [false, true]) {
      const options = { ...batch(100 + i, 40, 1.2, perSequence), config: { ...config, returnGrad: true } };
      const native = computePolicyLoss(options);
      const ref = reference.computePolicyLoss(options);
      const what = `${JSON.stringify(config)} perSequence=${perSequence}`;
      assertClose([native.loss], [ref.loss], 1e-5, `${what} loss`);
      assertClose(Object.values(native.metrics), Object.values(ref.metrics), 1e-5, `${what} metrics`);
      assert.deepEqual(Object.keys(native.metrics), Object.keys(ref.metrics));
      assertClose(native.grad!, ref.grad!, 1e-5, `${what} grad`);
    }
  }
});

test('the metrics visit every clipped region on these batches', () => {
  const out = computePolicyLoss({ ...batch(7, 200, 1.2, false), config: { dualClip: 3 } });
  assert.ok(out.metrics.clip_frac_low > 0 && out.metrics.clip_frac_high > 0 && out.metrics.dual_clip_frac > 0, JSON.stringify(out.metrics));
  assertClose([out.metrics.clip_frac], [out.metrics.clip_frac_low + out.metrics.clip_frac_high + out.metrics.dual_clip_frac]);
});

/** Central differences of the loss in each token's log-prob (float32 steps, exact denominators). */
function finiteDifferences(options: PolicyLossOptions, lossOf: (o: PolicyLossOptions) => number): number[] {
  const logprobs = options.logprobs as Float32Array;
  return Array.from(logprobs, (x, t) => {
    const probe = Float32Array.from(logprobs);
    probe[t] = x + 1e-3;
    const plus = probe[t];
    const up = lossOf({ ...options, logprobs: probe });
    probe[t] = x - 1e-3;
    const minus = probe[t];
    return (up - lossOf({ ...options, logprobs: Float32Array.from(probe) })) / (plus - minus);
  });
}

function assertGradient(grad: Float32Array, fd: number[], what: string): void {
  fd.forEach((f, t) => {
    const g = grad[t];
    assert.ok(Math.abs(g - f) <= 1e-9 + 1e-3 * Math.max(Math.abs(f), Math.abs(g)), `${what}: token ${t}: analytic ${g} vs finite difference ${f}`);
  });
}

/** Log-ratios the loss clips, to keep probes away from the kinks of the objective. */
function clippedLogRatios(o: PolicyLossOptions, config: PolicyLossConfig): number[] {
  const [lp, old, mask, off] = [o.logprobs as Float32Array, o.oldLogprobs as Float32Array, o.mask as Uint8Array, o.offsets as Int32Array];
  if (config.loss === 'token_clip') return Array.from(lp, (x, t) => x - old[t]);
  const out: number[] = [];
  for (let k = 0; k + 1 < off.length; k++) {
    let sum = 0, count = 0;
    for (let t = off[k]; t < off[k + 1]; t++) if (mask[t]) (sum += lp[t] - old[t]), count++;
    if (count) out.push(sum / count);
  }
  return out;
}

function smoothBatch(seed: number, config: PolicyLossConfig, spread: number, perSequence: boolean): PolicyLossOptions {
  const kinks = [Math.log(1 - (config.epsLow ?? 0.2)), Math.log(1 + (config.epsHigh ?? 0.2)), Math.log(config.dualClip ?? 1e9)];
  for (let s = seed; ; s++) {
    const o = batch(s, 6, spread, perSequence);
    if (clippedLogRatios(o, config).every((lr) => kinks.every((k) => Math.abs(lr - k) > 0.01))) return o;
  }
}

test('the gradient matches finite differences for every loss, aggregation and KL estimator', () => {
  for (const [i, config] of configs.entries()) {
    if (config.loss === 'gspo_token' || config.loss === 'cispo') continue; // stop-gradient losses; checked below
    const spread = config.loss === 'token_clip' ? 1.2 : 0.1;
    const options = { ...smoothBatch(500 + 50 * i, config, spread, config.loss === 'gspo'), config: { ...config, returnGrad: true } };
    const out = computePolicyLoss(options);
    assertGradient(out.grad!, finiteDifferences(options, (o) => computePolicyLoss(o).loss), JSON.stringify(config));
  }
});

test('GSPO-token has the gradient of GSPO with sequence advantages, and of its stop-gradient surrogate with token advantages', () => {
  for (const aggregation of AGGREGATIONS) {
    const config: PolicyLossConfig = { loss: 'gspo_token', aggregation, epsLow: 0.05, epsHigh: 0.05, beta: 0.2, returnGrad: true };
    // Sequence advantages: the value of GSPO-token is GSPO's, and so is its gradient.
    const seq = { ...smoothBatch(900, config, 0.1, true), config };
    assertGradient(computePolicyLoss(seq).grad!, finiteDifferences(seq, (o) => computePolicyLoss(o).loss), `${aggregation} sequence advantages`);
    // Token advantages: sg[s_i] * p_t / sg[p_t] is the token ratio against old' = logp - log s_i held fixed.
    const tok = { ...smoothBatch(950, config, 0.1, false), config };
    const logS = sequenceLogRatios(tok);
    const anchoredOld = Float32Array.from(tok.logprobs as Float32Array, (x, t) => x - logS[t]);
    const surrogate = (o: PolicyLossOptions) => computePolicyLoss({ ...o, oldLogprobs: anchoredOld, config: { ...config, loss: 'token_clip' } }).loss;
    assertGradient(computePolicyLoss(tok).grad!, finiteDifferences(tok, surrogate), `${aggregation} token advantages`);
  }
});

test("CISPO's gradient is that of its value with the clipped weight held fixed, and no loss token loses it", () => {
  for (const aggregation of AGGREGATIONS) {
    for (const [epsLow, epsHigh] of [[0.2, 0.2], [1, 3]]) {
      const config: PolicyLossConfig = { loss: 'cispo', aggregation, epsLow, epsHigh, beta: 0.2, returnGrad: true };
      const options = { ...batch(1200, 8, 1.2, false), config };
      // Moving oldLogprobs with logprobs keeps every ratio, so every weight, where it is.
      const old = options.oldLogprobs as Float32Array;
      const anchored = (o: PolicyLossOptions) => {
        const moved = Float32Array.from(old, (x, t) => x + ((o.logprobs as Float32Array)[t] - (options.logprobs as Float32Array)[t]));
        return computePolicyLoss({ ...o, oldLogprobs: moved }).loss;
      };
      const out = computePolicyLoss(options);
      const what = `${aggregation} ${epsLow}/${epsHigh}`;
      assertGradient(out.grad!, finiteDifferences(options, anchored), what);
      const mask = options.mask as Uint8Array;
      assert.ok(out.grad!.every((g, t) => !mask[t] || g !== 0), `${what}: a loss token has no gradient`);
      if (epsHigh === 0.2) assert.ok(out.metrics.clip_frac_low > 0 && out.metrics.clip_frac_high > 0, `${what}: ${JSON.stringify(out.metrics)}`);
    }
  }
});

/** log s_i of each token's sequence. */
function sequenceLogRatios(o: PolicyLossOptions): number[] {
  const [lp, old, mask, off] = [o.logprobs as Float32Array, o.oldLogprobs as Float32Array, o.mask as Uint8Array, o.offsets as Int32Array];
  const out = new Array<number>(lp.length).fill(0);
  for (let k = 0; k + 1 < off.length; k++) {
    let sum = 0, count = 0;
    for (let t = off[k]; t < off[k + 1]; t++) if (mask[t]) (sum += lp[t] - old[t]), count++;
    for (let t = off[k]; t < off[k + 1]; t++) out[t] = count ? sum / count : 0;
  }
  return out;
}

test('micro-batches with the batch normalizer sum to the full-batch loss and gradient', () => {
  const full = batch(77, 12, 1.0, false);
  const offsets = full.offsets as Int32Array;
  const cut = offsets[5];
  const slice = (start: number, end: number, k0: number, k1: number): PolicyLossOptions => ({
    logprobs: (full.logprobs as Float32Array).subarray(start, end),
    oldLogprobs: (full.oldLogprobs as Float32Array).subarray(start, end),
    refLogprobs: (full.refLogprobs as Float32Array).subarray(start, end),
    advantages: (full.advantages as Float32Array).subarray(start, end),
    mask: (full.mask as Uint8Array).subarray(start, end),
    offsets: Int32Array.from(offsets.subarray(k0, k1 + 1), (o) => o - start),
  });
  const counts = Array.from({ length: offsets.length - 1 }, (_, k) => (full.mask as Uint8Array).subarray(offsets[k], offsets[k + 1]).reduce((a, m) => a + m, 0));
  const normalizer = { tokens: counts.reduce((a, c) => a + c, 0), sequences: counts.filter((c) => c > 0).length, maxLength: Math.max(...counts) };
  for (const aggregation of AGGREGATIONS) {
    for (const impl of [computePolicyLoss, reference.computePolicyLoss]) {
      const config: PolicyLossConfig = { aggregation, beta: 0.1, returnGrad: true };
      const whole = impl({ ...full, config });
      const a = impl({ ...slice(0, cut, 0, 5), config, normalizer });
      const b = impl({ ...slice(cut, offsets[offsets.length - 1], 5, offsets.length - 1), config, normalizer });
      assertClose([a.loss + b.loss], [whole.loss], 1e-6, aggregation);
      assertClose([...a.grad!, ...b.grad!], whole.grad!, 1e-6, aggregation);
    }
  }
});

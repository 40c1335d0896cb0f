/**
 * `node --import tsx bench/loss.ts`: computePolicyLoss (native, with its gradient) vs the
 * TypeScript reference, per loss type, in ns per token. Prints JSON.
 */
import { computePolicyLoss, reference, type PolicyLossConfig } from '../src/index.js';
import { bestSecondsPerCall } from './measure.js';

const SIZES = [4_096, 65_536, 1_048_576];
const SEQUENCE_LENGTH = 512;

function batch(n: number) {
  const logprobs = Float32Array.from({ length: n }, (_, i) => -1 - 0.5 * Math.sin(i * 12.9898));
  const oldLogprobs = Float32Array.from(logprobs, (x, i) => x + 0.2 * Math.sin(i * 78.233));
  const refLogprobs = Float32Array.from(logprobs, (x, i) => x + 0.1 * Math.cos(i * 3.7));
  const advantages = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37));
  const mask = Uint8Array.from({ length: n }, (_, i) => (i % 7 === 0 ? 0 : 1));
  const count = Math.ceil(n / SEQUENCE_LENGTH);
  const offsets = Int32Array.from({ length: count + 1 }, (_, k) => Math.min(n, k * SEQUENCE_LENGTH));
  return { logprobs, oldLogprobs, refLogprobs, advantages, mask, offsets };
}

const CONFIGS: Record<string, PolicyLossConfig> = {
  token_clip: { loss: 'token_clip', returnGrad: true },
  token_clip_kl: { loss: 'token_clip', beta: 0.04, returnGrad: true },
  gspo: { loss: 'gspo', returnGrad: true },
};

const results = [];
for (const n of SIZES) {
  const inputs = batch(n);
  for (const [name, config] of Object.entries(CONFIGS)) {
    const options = { ...inputs, config };
    const nativeS = bestSecondsPerCall(() => computePolicyLoss(options));
    const referenceS = bestSecondsPerCall(() => reference.computePolicyLoss(options), { rounds: 3 });
    results.push({
      loss: name,
      tokens: n,
      native_ns_per_token: round((nativeS / n) * 1e9),
      reference_ns_per_token: round((referenceS / n) * 1e9),
      native_speedup: round(referenceS / nativeS),
    });
  }
}
console.log(JSON.stringify({ results }, null, 2));

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

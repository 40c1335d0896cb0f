/**
 * `npm run bench:core`: native advantage kernels vs the TypeScript reference, and native
 * bandwidth as a fraction of the copy bandwidth measured in the same run. Prints JSON.
 */
import { nativeKernels, reference, NATIVE_MIN_ELEMENTS } from '../src/index.js';
import { bestSecondsPerCall, copyBandwidthGbps } from './measure.js';

const SIZES = [1_000, 4_000, 16_000, 64_000, 256_000, 1_000_000, 4_000_000, 16_000_000];
/** Small sizes, to locate the crossover below which the reference is faster. */
const CROSSOVER_SIZES = [16, 32, 64, 128, 256, 512, 1_000, 2_000, 4_000];
const TRAJECTORY_LENGTH = 1024;
const GROUP_SIZE = 8;

function randomFloats(n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sin(i * 12.9898) * 0.5;
  return out;
}

function offsetsFor(n: number): Int32Array {
  const count = Math.ceil(n / TRAJECTORY_LENGTH);
  return Int32Array.from({ length: count + 1 }, (_, k) => Math.min(n, k * TRAJECTORY_LENGTH));
}

interface Result {
  kernel: 'gae' | 'group_advantages';
  n: number;
  native_ns_per_elem: number;
  reference_ns_per_elem: number;
  native_gbps: number;
  native_fraction_of_copy: number;
  native_speedup: number;
}

const copyGbps = copyBandwidthGbps();
const results: Result[] = [];
for (const n of SIZES) {
  const rewards = randomFloats(n);
  const values = randomFloats(n);
  const offsets = offsetsFor(n);
  const groupSize = n % GROUP_SIZE === 0 ? GROUP_SIZE : 1;
  const gae = { rewards, values, offsets, gamma: 1, lambda: 0.95 };
  const group = { rewards, groupSize, estimator: 'grpo' as const };
  const referenceRounds = n >= 4_000_000 ? 1 : 3;
  const cases = [
    { kernel: 'gae' as const, bytes: 16, native: () => nativeKernels.computeGae(gae), ref: () => reference.computeGae(gae) },
    { kernel: 'group_advantages' as const, bytes: 8, native: () => nativeKernels.groupAdvantages(group), ref: () => reference.groupAdvantages(group) },
  ];
  for (const c of cases) {
    const nativeS = bestSecondsPerCall(c.native, { rounds: 5 });
    const referenceS = bestSecondsPerCall(c.ref, { rounds: referenceRounds, minSeconds: n >= 4_000_000 ? 0 : 0.05 });
    const nativeGbps = (c.bytes * n) / nativeS / 1e9;
    results.push({
      kernel: c.kernel,
      n,
      native_ns_per_elem: round((nativeS / n) * 1e9),
      reference_ns_per_elem: round((referenceS / n) * 1e9),
      native_gbps: round(nativeGbps),
      native_fraction_of_copy: round(nativeGbps / copyGbps),
      native_speedup: round(referenceS / nativeS),
    });
  }
}

/**
 * The smallest probed size from which native is faster at every larger probed size, or
 * null when the reference is faster even at the largest probed size.
 */
function crossover(kernel: Result['kernel']): number | null {
  let from = Infinity;
  for (const n of [...CROSSOVER_SIZES].reverse()) {
    const rewards = randomFloats(n);
    const values = randomFloats(n);
    const run =
      kernel === 'gae'
        ? [() => nativeKernels.computeGae({ rewards, values }), () => reference.computeGae({ rewards, values })]
        : [() => nativeKernels.groupAdvantages({ rewards, groupSize: 8 }), () => reference.groupAdvantages({ rewards, groupSize: 8 })];
    if (bestSecondsPerCall(run[0]) > bestSecondsPerCall(run[1])) break;
    from = n;
  }
  return Number.isFinite(from) ? from : null;
}

console.log(
  JSON.stringify(
    {
      copy_gbps: round(copyGbps),
      measured_crossover_elements: { gae: crossover('gae'), group_advantages: crossover('group_advantages') },
      threads: Number(process.env.RAYON_NUM_THREADS),
      native_min_elements: NATIVE_MIN_ELEMENTS,
      bytes_per_element: { gae: 16, group_advantages: 8 },
      results,
    },
    null,
    2,
  ),
);

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/**
 * `npm run bench:core`: the advantage kernels, native and TypeScript reference, each both
 * ways: returning fresh arrays, and writing into output buffers the caller provides
 * (`out`). Bandwidth is reported as a fraction of `Float32Array.set` into an existing
 * buffer of the same size, measured in the same run. Prints JSON.
 */
import { nativeKernels, reference, NATIVE_MIN_ELEMENTS } from '../src/index.js';
import { bestSecondsPerCall, copyBandwidthGbps, setBandwidthGbps } from './measure.js';

const SIZES = [1_000, 4_000, 16_000, 64_000, 256_000, 1_000_000, 4_000_000, 16_000_000];
/** Small sizes, to locate the crossover below which the reference is faster. */
const CROSSOVER_SIZES = [16, 32, 64, 128, 256, 512, 1_000, 2_000, 4_000];
const TRAJECTORY_LENGTH = 1024;
const GROUP_SIZE = 8;
/** The goal for provided buffers at the largest size: at least half of set()'s bandwidth. */
const TARGET_FRACTION_OF_SET = 0.5;

function randomFloats(n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sin(i * 12.9898) * 0.5;
  return out;
}

function offsetsFor(n: number): Int32Array {
  const count = Math.ceil(n / TRAJECTORY_LENGTH);
  return Int32Array.from({ length: count + 1 }, (_, k) => Math.min(n, k * TRAJECTORY_LENGTH));
}

/** A buffer whose pages are already mapped, as one kept between training steps would be. */
const mapped = (n: number) => new Float32Array(n).fill(0);

interface Timing {
  ns_per_elem: number;
  gbps: number;
  fraction_of_set: number;
}

interface Result {
  kernel: 'gae' | 'group_advantages';
  n: number;
  set_gbps: number;
  native: { fresh: Timing; into: Timing };
  reference: { fresh: Timing; into: Timing };
  native_speedup: { fresh: number; into: number };
}

const BYTES_PER_ELEMENT = { gae: 16, group_advantages: 8 } as const;

const results: Result[] = [];
for (const n of SIZES) {
  const setGbps = setBandwidthGbps(n);
  const rewards = randomFloats(n);
  const values = randomFloats(n);
  const offsets = offsetsFor(n);
  const groupSize = n % GROUP_SIZE === 0 ? GROUP_SIZE : 1;
  const gae = { rewards, values, offsets, gamma: 1, lambda: 0.95 };
  const gaeInto = { ...gae, out: { advantages: mapped(n), returns: mapped(n) } };
  const group = { rewards, groupSize, estimator: 'grpo' as const };
  const groupInto = { ...group, out: mapped(n) };
  const large = n >= 4_000_000;
  const cases = [
    {
      kernel: 'gae' as const,
      native: { fresh: () => nativeKernels.computeGae(gae), into: () => nativeKernels.computeGae(gaeInto) },
      reference: { fresh: () => reference.computeGae(gae), into: () => reference.computeGae(gaeInto) },
    },
    {
      kernel: 'group_advantages' as const,
      native: { fresh: () => nativeKernels.groupAdvantages(group), into: () => nativeKernels.groupAdvantages(groupInto) },
      reference: { fresh: () => reference.groupAdvantages(group), into: () => reference.groupAdvantages(groupInto) },
    },
  ];
  for (const c of cases) {
    const timing = (fn: () => unknown, reference: boolean): Timing => {
      const options = reference ? { rounds: large ? 2 : 3, minSeconds: large ? 0 : 0.05 } : { rounds: 5 };
      const seconds = bestSecondsPerCall(fn, options);
      const gbps = (BYTES_PER_ELEMENT[c.kernel] * n) / seconds / 1e9;
      return { ns_per_elem: round((seconds / n) * 1e9), gbps: round(gbps), fraction_of_set: round(gbps / setGbps) };
    };
    const native = { fresh: timing(c.native.fresh, false), into: timing(c.native.into, false) };
    const ref = { fresh: timing(c.reference.fresh, true), into: timing(c.reference.into, true) };
    results.push({
      kernel: c.kernel,
      n,
      set_gbps: round(setGbps),
      native,
      reference: ref,
      native_speedup: {
        fresh: round(ref.fresh.ns_per_elem / native.fresh.ns_per_elem),
        into: round(ref.into.ns_per_elem / native.into.ns_per_elem),
      },
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

const largest = SIZES[SIZES.length - 1];
const atLargest = (kernel: Result['kernel']) => {
  const r = results.find((x) => x.kernel === kernel && x.n === largest)!;
  return {
    native_fresh: r.native.fresh.fraction_of_set,
    native_into: r.native.into.fraction_of_set,
    reference_fresh: r.reference.fresh.fraction_of_set,
    reference_into: r.reference.into.fraction_of_set,
    native_into_meets_target: r.native.into.fraction_of_set >= TARGET_FRACTION_OF_SET,
  };
};

console.log(
  JSON.stringify(
    {
      threads: Number(process.env.RAYON_NUM_THREADS) || 'default (one per core)',
      /** Fresh copy (allocate + copy, `slice()`) at 16M elements, for comparison with set(). */
      slice_gbps_16m: round(copyBandwidthGbps()),
      target: `native with provided buffers >= ${TARGET_FRACTION_OF_SET} of set() bandwidth at ${largest} elements`,
      fraction_of_set_at_largest: { gae: atLargest('gae'), group_advantages: atLargest('group_advantages') },
      measured_crossover_elements: { gae: crossover('gae'), group_advantages: crossover('group_advantages') },
      native_min_elements: NATIVE_MIN_ELEMENTS,
      bytes_per_element: BYTES_PER_ELEMENT,
      results,
    },
    null,
    2,
  ),
);

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

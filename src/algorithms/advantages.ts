/**
 * The advantage kernels, computed by the native core. Small inputs go to the TypeScript
 * reference instead, because below `NATIVE_MIN_ELEMENTS` the cost of crossing into
 * native code exceeds the work (the crossover is measured by `npm run bench:core`).
 */
import { callNative, native } from '../native.js';
import type { Mask } from './inputs.js';
import { gaeArgs, groupArgs, whitenArgs } from './normalize.js';
import * as reference from './reference/index.js';
import type { GaeOptions, GaeResult, GroupAdvantageOptions } from './types.js';

/** Inputs shorter than this are computed by the reference (same results to 1e-5). */
export const NATIVE_MIN_ELEMENTS = 256;

/**
 * The kernels forced onto the native core whatever the input size (tests, benchmarks).
 * Given `out` buffers, they write into them and return them, allocating nothing.
 */
export const nativeKernels = {
  computeGae(options: GaeOptions): GaeResult {
    const a = gaeArgs(options);
    if (!a.out) {
      return callNative(() =>
        native.computeGae(a.rewards, a.values, a.dones, a.mask, a.offsets, a.bootstrap, a.gamma, a.lambda, a.whiten),
      );
    }
    const { advantages, returns } = a.out;
    callNative(() =>
      native.computeGaeInto(a.rewards, a.values, a.dones, a.mask, a.offsets, a.bootstrap, a.gamma, a.lambda, a.whiten, advantages, returns),
    );
    return { advantages, returns };
  },
  groupAdvantages(options: GroupAdvantageOptions): Float32Array {
    const a = groupArgs(options);
    const out = a.out;
    if (!out) return callNative(() => native.groupAdvantages(a.rewards, a.groupSize, a.groupIds, a.estimator, a.scale, a.eps));
    callNative(() => native.groupAdvantagesInto(a.rewards, a.groupSize, a.groupIds, a.estimator, a.scale, a.eps, out));
    return out;
  },
  whiten(values: Float32Array | number[], mask?: Mask | number[], out?: Float32Array): Float32Array {
    const a = whitenArgs(values, mask, out);
    const into = a.out;
    if (!into) return callNative(() => native.whiten(a.values, a.mask));
    callNative(() => native.whitenInto(a.values, a.mask, into));
    return into;
  },
};

const small = (values: unknown) => ((values as ArrayLike<number> | undefined)?.length ?? 0) < NATIVE_MIN_ELEMENTS;

/** Generalized Advantage Estimation over one or many trajectories (ALGORITHMS.md section 2). */
export function computeGae(options: GaeOptions): GaeResult {
  return small(options?.rewards) ? reference.computeGae(options) : nativeKernels.computeGae(options);
}

/** Group-relative advantages of outcome rewards (ALGORITHMS.md section 1). */
export function groupAdvantages(options: GroupAdvantageOptions): Float32Array {
  return small(options?.rewards) ? reference.groupAdvantages(options) : nativeKernels.groupAdvantages(options);
}

/**
 * (x - mean) / sqrt(var_unbiased + 1e-8) over the masked positions; others become 0.
 * Written into `out` (a Float32Array of the same length) when given.
 */
export function whiten(values: Float32Array | number[], mask?: Mask | number[], out?: Float32Array): Float32Array {
  return small(values) ? reference.whiten(values, mask, out) : nativeKernels.whiten(values, mask, out);
}

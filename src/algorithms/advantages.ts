/**
 * The advantage kernels, computed by the native core. Small inputs go to the TypeScript
 * reference instead, because below `NATIVE_MIN_ELEMENTS` the cost of crossing into
 * native code exceeds the work (the crossover is measured by `npm run bench:core`).
 */
import { callNative, native } from '../native.js';
import { optional, toFloat32, toMask, type Mask } from './inputs.js';
import { gaeArgs, groupArgs } from './normalize.js';
import * as reference from './reference/index.js';
import type { GaeOptions, GaeResult, GroupAdvantageOptions } from './types.js';

/** Inputs shorter than this are computed by the reference (same results to 1e-5). */
export const NATIVE_MIN_ELEMENTS = 256;

/** The kernels forced onto the native core whatever the input size (tests, benchmarks). */
export const nativeKernels = {
  computeGae(options: GaeOptions): GaeResult {
    const a = gaeArgs(options);
    return callNative(() =>
      native.computeGae(a.rewards, a.values, a.dones, a.mask, a.offsets, a.bootstrap, a.gamma, a.lambda, a.whiten),
    );
  },
  groupAdvantages(options: GroupAdvantageOptions): Float32Array {
    const a = groupArgs(options);
    return callNative(() => native.groupAdvantages(a.rewards, a.groupSize, a.groupIds, a.estimator, a.scale, a.eps));
  },
  whiten(values: Float32Array | number[], mask?: Mask | number[]): Float32Array {
    const v = toFloat32('values', values);
    const m = optional(mask, (x) => toMask('mask', x));
    return callNative(() => native.whiten(v, m));
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

/** (x - mean) / sqrt(var_unbiased + 1e-8) over the masked positions; others become 0. */
export function whiten(values: Float32Array | number[], mask?: Mask | number[]): Float32Array {
  return small(values) ? reference.whiten(values, mask) : nativeKernels.whiten(values, mask);
}

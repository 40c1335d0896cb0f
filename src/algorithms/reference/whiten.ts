/** Masked whitening: (x - mean) / sqrt(var_unbiased + 1e-8); positions outside the mask become 0. */
import type { Mask } from '../inputs.js';
import { whitenArgs } from '../normalize.js';
import { checkLength } from './checks.js';

export const WHITEN_EPS = 1e-8;

export function whiten(values: Float32Array | number[], mask?: Mask | number[], out?: Float32Array): Float32Array {
  const a = whitenArgs(values, mask, out);
  if (a.mask) checkLength('mask', a.mask.length, 'values', a.values.length);
  const result = a.out ?? new Float32Array(a.values.length);
  result.set(a.values);
  whitenInPlace(result, a.mask);
  return result;
}

export function whitenInPlace(values: Float32Array, mask: Uint8Array | undefined): void {
  const selected = (i: number) => !mask || mask[i] !== 0;
  let count = 0;
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    if (selected(i)) {
      count++;
      sum += values[i];
    }
  }
  const mean = count > 0 ? sum / count : 0;
  let squares = 0;
  for (let i = 0; i < values.length; i++) if (selected(i)) squares += (values[i] - mean) ** 2;
  const variance = count > 1 ? squares / (count - 1) : 0;
  const invStd = 1 / Math.sqrt(variance + WHITEN_EPS);
  for (let i = 0; i < values.length; i++) values[i] = selected(i) ? (values[i] - mean) * invStd : 0;
}

/**
 * Normalization of user-facing array arguments into the typed arrays the kernels take.
 * Shared by the native-backed API and the TypeScript reference, so both accept the same
 * inputs and reject bad ones with the same codes.
 */
import { fail } from '../core/errors.js';

/** A 0/1 mask: bytes, or floats that are exactly 0 or 1. */
export type Mask = Uint8Array | Float32Array;

export function toFloat32(name: string, value: unknown): Float32Array {
  if (value instanceof Float32Array) return value;
  if (Array.isArray(value) || value instanceof Float64Array) return Float32Array.from(value as ArrayLike<number>);
  return fail('ERR_INVALID_ARGUMENT', `${name} must be a Float32Array (or an array of numbers), got ${describe(value)}`);
}

export function toInt32(name: string, value: unknown): Int32Array {
  if (value instanceof Int32Array) return value;
  if (Array.isArray(value)) {
    const out = Int32Array.from(value as number[]);
    const bad = out.findIndex((v, i) => v !== (value as number[])[i]);
    if (bad >= 0) fail('ERR_INVALID_ARGUMENT', `${name}[${bad}] must be a 32-bit integer, got ${(value as number[])[bad]}`);
    return out;
  }
  return fail('ERR_INVALID_ARGUMENT', `${name} must be an Int32Array (or an array of integers), got ${describe(value)}`);
}

export function toMask(name: string, value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (value instanceof Float32Array || Array.isArray(value)) {
    const src = value as ArrayLike<number>;
    const out = new Uint8Array(src.length);
    for (let i = 0; i < src.length; i++) {
      const v = src[i];
      if (v !== 0 && v !== 1) fail('ERR_INVALID_ARGUMENT', `${name}[${i}] is ${v}; a mask holds only 0 and 1`);
      out[i] = v;
    }
    return out;
  }
  return fail('ERR_INVALID_ARGUMENT', `${name} must be a Uint8Array or a Float32Array of 0/1, got ${describe(value)}`);
}

export function optional<T>(value: unknown, convert: (v: unknown) => T): T | undefined {
  return value === undefined || value === null ? undefined : convert(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'object';
  return typeof value;
}

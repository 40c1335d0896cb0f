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

/**
 * A buffer the caller provides for a kernel's output: a Float32Array of exactly `length`
 * elements (one per `per`), written in place.
 */
export function toOutput(name: string, value: unknown, length: number, per: string): Float32Array {
  if (!(value instanceof Float32Array)) {
    return fail('ERR_INVALID_ARGUMENT', `${name} must be a Float32Array of length ${length} (one element per ${per}), got ${describe(value)}`);
  }
  if (value.length !== length) {
    fail('ERR_INVALID_ARGUMENT', `${name} has length ${value.length} but there are ${length} ${per}s; give a Float32Array of length ${length}`);
  }
  return value;
}

/**
 * Kernels write their outputs while reading their inputs, so no output may share memory
 * with an input or with another output (views of one ArrayBuffer can).
 */
export function checkDisjoint(outputs: Array<[string, Float32Array]>, inputs: Array<[string, ArrayBufferView | undefined]>): void {
  outputs.forEach(([name, out], i) => {
    for (const [other, view] of [...outputs.slice(i + 1), ...inputs]) {
      if (view && overlaps(out, view)) fail('ERR_INVALID_ARGUMENT', `${name} shares memory with ${other}; give output buffers of their own`);
    }
  });
}

function overlaps(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return (
    a.buffer === b.buffer &&
    a.byteLength > 0 &&
    b.byteLength > 0 &&
    a.byteOffset < b.byteOffset + b.byteLength &&
    b.byteOffset < a.byteOffset + a.byteLength
  );
}

export function optional<T>(value: unknown, convert: (v: unknown) => T): T | undefined {
  return value === undefined || value === null ? undefined : convert(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'object';
  return typeof value;
}

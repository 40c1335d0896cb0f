/** The reference's input checks; codes and wording follow the native core's. */
import { fail } from '../../core/errors.js';

export function checkLength(name: string, actual: number, expectedName: string, expected: number): void {
  if (actual !== expected) {
    fail('ERR_LENGTH_MISMATCH', `${name} has length ${actual} but ${expectedName} has length ${expected}; they must be equal`);
  }
}

export function checkRange(name: string, value: number, lo: number, hi: number): void {
  if (!(Number.isFinite(value) && value >= lo && value <= hi)) {
    fail('ERR_INVALID_PARAMETER', `${name} must be a finite number in [${lo}, ${hi}], got ${value}`);
  }
}

export function checkOffsets(offsets: Int32Array, len: number): void {
  const bad = (what: string): never =>
    fail(
      'ERR_INVALID_OFFSETS',
      `offsets ${what}; offsets must hold n+1 non-decreasing boundaries from 0 to the buffer length (${len})`,
    );
  if (offsets.length === 0) bad('is empty');
  const negative = offsets.findIndex((v) => v < 0);
  if (negative >= 0) bad(`[${negative}] is negative (${offsets[negative]})`);
  if (offsets[0] !== 0) bad(`[0] is ${offsets[0]} instead of 0`);
  const last = offsets[offsets.length - 1];
  if (last !== len) bad(`[${offsets.length - 1}] is ${last} instead of ${len}`);
  for (let i = 1; i < offsets.length; i++) {
    if (offsets[i] < offsets[i - 1]) bad(`decrease at index ${i} (${offsets[i]} after ${offsets[i - 1]})`);
  }
}

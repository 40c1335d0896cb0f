import assert from 'node:assert/strict';
import { StatesetError } from '../../src/index.js';

/** A validator for assert.throws / assert.rejects: a StatesetError with `code` whose message matches `mentions`. */
export function isCode(code: string, mentions: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof StatesetError, `expected a StatesetError, got ${err}`);
    assert.equal(err.code, code);
    assert.match(err.message, mentions);
    return true;
  };
}

/** Asserts that `fn` throws a StatesetError with `code` whose message matches `mentions`. */
export function throwsCode(fn: () => unknown, code: string, mentions: RegExp): void {
  assert.throws(fn, isCode(code, mentions));
}

/** Asserts that the promise `fn` returns rejects with a StatesetError with `code` whose message matches `mentions`. */
export async function rejectsCode(fn: () => Promise<unknown>, code: string, mentions: RegExp): Promise<void> {
  await assert.rejects(fn, isCode(code, mentions));
}

import assert from 'node:assert/strict';
import { StatesetError } from '../../src/index.js';

/** Asserts that `fn` throws a StatesetError with `code` whose message matches `mentions`. */
export function throwsCode(fn: () => unknown, code: string, mentions: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof StatesetError, `expected a StatesetError, got ${err}`);
    assert.equal(err.code, code);
    assert.match(err.message, mentions);
    return true;
  });
}

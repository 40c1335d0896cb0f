// The addon itself: panics become errors, and the package resolves by its own name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { callNative, native } from '../src/native.js';
import * as source from '../src/index.js';

test('a Rust panic reaches JavaScript as an ERR_NATIVE_PANIC error, and Node lives on', () => {
  assert.throws(
    () => callNative(() => native.__panicForTests()),
    (err: { code?: string; message?: string }) => err.code === 'ERR_NATIVE_PANIC' && /deliberate panic/.test(err.message ?? ''),
  );
  // The addon still works after the panic.
  assert.equal(callNative(() => native.whiten(new Float32Array([1, 3]), undefined)).length, 2);
});

test("the package imports itself by name ('stateset-agents') with the same API", async () => {
  const pkg = await import('stateset-agents');
  for (const name of Object.keys(source)) assert.ok(name in pkg, `stateset-agents does not export ${name}`);
  const adv = pkg.groupAdvantages({ rewards: [1, 0, 0, 1], groupSize: 4, estimator: 'dr_grpo' });
  assert.deepEqual(Array.from(adv), [0.5, -0.5, -0.5, 0.5]);
});

// learningRate: the native schedule, as the trainer will log it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { learningRate, StatesetError } from '../src/index.js';
import { assertClose } from './helpers/random.js';

test('warmup, then constant, linear or cosine decay to the floor', () => {
  const base = { lr: 1e-3, warmupSteps: 4, totalSteps: 14, minLrRatio: 0.1 };
  for (const kind of ['constant', 'linear', 'cosine'] as const) {
    assertClose([0, 3, 4].map((s) => learningRate({ ...base, kind }, s)), [2e-4, 8e-4, 1e-3], 1e-12, kind);
  }
  assertClose([9, 14, 100].map((s) => learningRate({ ...base, kind: 'linear' }, s)), [5.5e-4, 1e-4, 1e-4], 1e-12);
  assertClose([9, 14, 100].map((s) => learningRate({ ...base, kind: 'cosine' }, s)), [5.5e-4, 1e-4, 1e-4], 1e-12);
  assertClose([learningRate({ kind: 'cosine', lr: 1, totalSteps: 8 }, 2)], [0.5 * (1 + Math.SQRT1_2)], 1e-12);
  assert.equal(learningRate({ kind: 'constant', lr: 3e-5 }, 123456), 3e-5);
});

test('bad schedules are rejected with clear codes', () => {
  const code = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      assert.ok(err instanceof StatesetError);
      return err.code;
    }
    assert.fail('expected an error');
  };
  assert.equal(code(() => learningRate({ kind: 'cosine', lr: 1e-3 }, 0)), 'ERR_INVALID_PARAMETER');
  assert.equal(code(() => learningRate({ kind: 'linear', lr: 1e-3, warmupSteps: 10, totalSteps: 10 }, 0)), 'ERR_INVALID_PARAMETER');
  assert.equal(code(() => learningRate({ kind: 'step' as never, lr: 1e-3 }, 0)), 'ERR_INVALID_ARGUMENT');
  assert.equal(code(() => learningRate({ kind: 'constant', lr: NaN }, 0)), 'ERR_INVALID_PARAMETER');
  assert.equal(code(() => learningRate({ kind: 'constant', lr: 1e-3 }, -1)), 'ERR_INVALID_PARAMETER');
});

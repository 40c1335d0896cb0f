// Invalid input gives a StatesetError with a stable code from native and reference alike.
import { test } from 'node:test';
import { throwsCode } from './helpers/errors.js';
import { nativeKernels, reference } from '../src/index.js';

const implementations = { native: nativeKernels, reference } as const;
const R = new Float32Array([0, 0, 0, 1]);
const V = new Float32Array([0.5, 0.6, 0.7, 0.8]);


for (const [name, impl] of Object.entries(implementations)) {
  test(`${name}: GAE rejects bad input with clear codes`, () => {
    throwsCode(() => impl.computeGae({ rewards: R, values: V.subarray(0, 3) }), 'ERR_LENGTH_MISMATCH', /values has length 3/);
    throwsCode(() => impl.computeGae({ rewards: R, values: V, mask: new Uint8Array(2) }), 'ERR_LENGTH_MISMATCH', /mask/);
    throwsCode(() => impl.computeGae({ rewards: R, values: V, gamma: NaN }), 'ERR_INVALID_PARAMETER', /gamma/);
    throwsCode(() => impl.computeGae({ rewards: R, values: V, lambda: Infinity }), 'ERR_INVALID_PARAMETER', /lambda/);
    throwsCode(() => impl.computeGae({ rewards: R, values: V, gamma: 1.5 }), 'ERR_INVALID_PARAMETER', /\[0, 1\]/);
    throwsCode(() => impl.computeGae({ rewards: R, values: V, offsets: [0, -1, 4] }), 'ERR_INVALID_OFFSETS', /negative/);
    throwsCode(() => impl.computeGae({ rewards: R, values: V, offsets: [0, 3, 2, 4] }), 'ERR_INVALID_OFFSETS', /decrease/);
    throwsCode(() => impl.computeGae({ rewards: R, values: V, offsets: [0, 5] }), 'ERR_INVALID_OFFSETS', /instead of 4/);
    throwsCode(() => impl.computeGae({ rewards: R, values: V, offsets: [0, 2, 4], bootstrap: [1] }), 'ERR_LENGTH_MISMATCH', /bootstrap/);
    throwsCode(() => impl.computeGae({ rewards: R, values: V, mask: [1, 0.5, 1, 1] }), 'ERR_INVALID_ARGUMENT', /only 0 and 1/);
    throwsCode(() => impl.computeGae({ rewards: 'x' as never, values: V }), 'ERR_INVALID_ARGUMENT', /rewards must be a Float32Array/);
  });

  test(`${name}: group advantages reject bad layouts`, () => {
    throwsCode(() => impl.groupAdvantages({ rewards: [1, 2, 3, 4, 5], groupSize: 2 }), 'ERR_INVALID_GROUPS', /does not divide/);
    throwsCode(() => impl.groupAdvantages({ rewards: [1, 2], groupSize: 0 }), 'ERR_INVALID_GROUPS', /positive integer/);
    throwsCode(() => impl.groupAdvantages({ rewards: [1, 2] }), 'ERR_INVALID_GROUPS', /exactly one of/);
    throwsCode(() => impl.groupAdvantages({ rewards: [1, 2], groupIds: [0] }), 'ERR_LENGTH_MISMATCH', /groupIds/);
    throwsCode(() => impl.groupAdvantages({ rewards: [1, 2], groupIds: [0, -3] }), 'ERR_INVALID_GROUPS', /negative/);
    throwsCode(() => impl.groupAdvantages({ rewards: [1, 2], groupSize: 2, estimator: 'ppo' as never }), 'ERR_INVALID_ARGUMENT', /unknown estimator/);
    throwsCode(() => impl.groupAdvantages({ rewards: [1, 2], groupSize: 2, eps: NaN }), 'ERR_INVALID_PARAMETER', /eps/);
  });
}

// ALGORITHMS.md section 7, through the native core and through the reference.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nativeKernels, reference, computeGae, groupAdvantages } from '../src/index.js';
import { assertClose } from './helpers/random.js';

const implementations = { native: nativeKernels, reference } as const;

for (const [name, impl] of Object.entries(implementations)) {
  test(`${name}: group estimators on rewards [1, 0, 0, 1]`, () => {
    const rewards = [1, 0, 0, 1];
    const g = (estimator: 'grpo' | 'dr_grpo' | 'rloo') => impl.groupAdvantages({ rewards, groupSize: 4, estimator });
    assertClose(g('grpo'), [0.865875, -0.865875, -0.865875, 0.865875]);
    assertClose(g('dr_grpo'), [0.5, -0.5, -0.5, 0.5]);
    assertClose(g('rloo'), [0.666667, -0.666667, -0.666667, 0.666667]);
  });

  test(`${name}: an all-equal group gives zero advantages under every estimator`, () => {
    for (const estimator of ['grpo', 'dr_grpo', 'rloo', 'reinforce_pp'] as const) {
      for (const scale of ['group', 'batch', 'none'] as const) {
        const adv = impl.groupAdvantages({ rewards: [0.5, 0.5, 0.5], groupSize: 3, estimator, scale });
        assert.deepEqual(Array.from(adv), [0, 0, 0], `${estimator}/${scale}`);
      }
    }
  });

  const R = [0, 0, 0, 1];
  const V = [0.5, 0.6, 0.7, 0.8];

  test(`${name}: GAE terminal, truncated and masked vectors`, () => {
    const terminal = impl.computeGae({ rewards: R, values: V, gamma: 0.99, lambda: 0.95 });
    assertClose(terminal.advantages, [0.429226, 0.356434, 0.2801, 0.2]);
    assertClose(terminal.returns, [0.929226, 0.956434, 0.9801, 1.0]);
    const truncated = impl.computeGae({ rewards: R, values: V, bootstrap: [0.9], gamma: 0.99, lambda: 0.95 });
    assertClose(truncated.advantages, [1.170458, 1.144559, 1.118086, 1.091]);
    const masked = impl.computeGae({ rewards: R, values: V, mask: new Uint8Array([1, 1, 0, 1]), gamma: 0.99, lambda: 0.95 });
    assertClose(masked.advantages, [0.451484, 0.3801, 0.2, 0.2]);
    const floatMask = impl.computeGae({ rewards: R, values: V, mask: new Float32Array([1, 1, 0, 1]), gamma: 0.99, lambda: 0.95 });
    assertClose(floatMask.advantages, masked.advantages);
  });

  test(`${name}: a done flag stops bootstrapping across an episode boundary`, () => {
    // Two episodes in one trajectory: the done at t = 1 cuts the second one off.
    const out = impl.computeGae({ rewards: [0, 1, 0, 1], values: V, dones: [0, 1, 0, 1], gamma: 0.99, lambda: 0.95 });
    const first = impl.computeGae({ rewards: [0, 1], values: [0.5, 0.6], gamma: 0.99, lambda: 0.95 });
    assertClose(out.advantages.subarray(0, 2), first.advantages);
  });
}

test('the defaults are gamma 1.0, lambda 0.95, grpo with eps 1e-4', () => {
  const explicit = reference.computeGae({ rewards: [0, 0, 1], values: [0.2, 0.4, 0.1], gamma: 1, lambda: 0.95 });
  assertClose(computeGae({ rewards: [0, 0, 1], values: [0.2, 0.4, 0.1] }).advantages, explicit.advantages);
  assertClose(groupAdvantages({ rewards: [1, 0, 0, 1], groupSize: 4 }), [0.865875, -0.865875, -0.865875, 0.865875]);
});

// The native core agrees with the TypeScript reference to 1e-5 on randomized inputs of
// many shapes: empty, length 1, odd lengths, ragged offsets, NaN rewards, all-equal groups.
import { test } from 'node:test';
import { nativeKernels, reference, RunningMeanStd } from '../src/index.js';
import type { Estimator, Scale } from '../src/index.js';
import { assertClose, rng } from './helpers/random.js';

const random = rng(20261125);
const floats = (n: number, scale = 1) => Float32Array.from({ length: n }, () => (random() * 2 - 1) * scale);
const bits = (n: number, p: number) => Uint8Array.from({ length: n }, () => (random() < p ? 1 : 0));

function raggedOffsets(total: number): Int32Array {
  const cuts = [0];
  while (cuts[cuts.length - 1] < total) cuts.push(Math.min(total, cuts[cuts.length - 1] + Math.floor(random() * 40)));
  return Int32Array.from(cuts);
}

test('GAE: native matches the reference on random shapes', () => {
  for (const len of [0, 1, 2, 3, 7, 31, 255, 256, 1001, 70_001]) {
    for (let trial = 0; trial < 4; trial++) {
      const offsets = trial === 0 ? undefined : raggedOffsets(len);
      const n = offsets ? offsets.length - 1 : 1;
      const options = {
        rewards: floats(len),
        values: floats(len),
        offsets,
        dones: trial >= 2 ? bits(len, 0.05) : undefined,
        mask: trial >= 1 ? bits(len, 0.7) : undefined,
        bootstrap: trial % 2 === 1 ? floats(n) : undefined,
        gamma: [1, 0.99, 0.9, 0][trial],
        lambda: [0.95, 1, 0.5, 0.95][trial],
        whiten: trial === 3,
      };
      const a = nativeKernels.computeGae(options);
      const b = reference.computeGae(options);
      assertClose(a.advantages, b.advantages, 1e-5, `advantages (len ${len}, trial ${trial})`);
      assertClose(a.returns, b.returns, 1e-5, `returns (len ${len}, trial ${trial})`);
    }
  }
});

test('group advantages: native matches the reference for every estimator and scale', () => {
  const estimators: Estimator[] = ['grpo', 'dr_grpo', 'rloo', 'reinforce_pp'];
  const scales: Scale[] = ['group', 'batch', 'none'];
  for (const [groupSize, groups] of [[1, 5], [2, 7], [3, 1], [4, 9], [5, 20_000], [8, 33], [16, 4200]] as const) {
    const rewards = Float32Array.from({ length: groupSize * groups }, () => {
      const u = random();
      return u < 0.1 ? NaN : u < 0.4 ? 1 : Math.round(u * 4) / 4; // missing, ties and spread
    });
    rewards.fill(0.25, 0, Math.min(groupSize, rewards.length)); // one all-equal group
    for (const estimator of estimators) {
      for (const scale of scales) {
        const options = { rewards, groupSize, estimator, scale };
        assertClose(nativeKernels.groupAdvantages(options), reference.groupAdvantages(options), 1e-5, `${estimator}/${scale}/G=${groupSize}`);
      }
    }
  }
  assertClose(nativeKernels.groupAdvantages({ rewards: [], groupSize: 4 }), []);
});

test('ragged groups by id: native matches the reference', () => {
  const len = 5000;
  const rewards = floats(len);
  rewards[17] = NaN;
  const groupIds = Int32Array.from({ length: len }, () => Math.floor(random() * 600) * 3);
  for (const estimator of ['grpo', 'rloo', 'dr_grpo'] as const) {
    const options = { rewards, groupIds, estimator };
    assertClose(nativeKernels.groupAdvantages(options), reference.groupAdvantages(options), 1e-5, estimator);
  }
});

test('whiten: native matches the reference, with and without a mask', () => {
  for (const len of [0, 1, 2, 99, 10_000]) {
    const values = floats(len, 5);
    const mask = bits(len, 0.5);
    assertClose(nativeKernels.whiten(values), reference.whiten(values), 1e-5, `len ${len}`);
    assertClose(nativeKernels.whiten(values, mask), reference.whiten(values, mask), 1e-5, `masked len ${len}`);
  }
});

test('running mean/std: merged batches equal one pass and the reference', () => {
  const data = floats(10_001, 3);
  data[5] = NaN;
  const whole = new RunningMeanStd().update(data);
  const merged = new RunningMeanStd().update(data.subarray(0, 4000)).merge(new RunningMeanStd().update(data.subarray(4000)).toJSON());
  const [count, mean, m2] = reference.runningStats(data);
  assertClose([merged.count, merged.mean, merged.m2], [count, mean, m2], 1e-9, 'merged');
  assertClose([whole.count, whole.mean, whole.m2], [count, mean, m2], 1e-9, 'whole');
  const restored = RunningMeanStd.fromJSON(JSON.parse(JSON.stringify(whole)));
  assertClose([restored.std], [whole.std], 0, 'restored');
});

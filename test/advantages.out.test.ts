// Output buffers: with `out`, the kernels write into the caller's Float32Arrays and return
// them, bit for bit what they return without `out`; bad buffers are refused before any write.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computeGae, groupAdvantages, nativeKernels, reference, whiten } from '../src/index.js';
import { callNative, native } from '../src/native.js';
import { throwsCode } from './helpers/errors.js';
import { rng } from './helpers/random.js';

const random = rng(20261126);
const floats = (n: number) => Float32Array.from({ length: n }, () => random() * 2 - 1);
const bits = (n: number, p: number) => Uint8Array.from({ length: n }, () => (random() < p ? 1 : 0));
/** A buffer full of NaN, so that a position the kernel forgets to write shows. */
const garbage = (n: number) => new Float32Array(n).fill(NaN);

function assertSameBits(actual: Float32Array, expected: Float32Array, what: string): void {
  const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  assert.ok(bytes(actual).equals(bytes(expected)), `${what}: the buffers differ`);
}

function offsetsFor(len: number): Int32Array {
  const cuts = [0];
  while (cuts[cuts.length - 1] < len) cuts.push(Math.min(len, cuts[cuts.length - 1] + 1 + Math.floor(random() * 300)));
  return Int32Array.from(cuts);
}

// 70_001 elements take the native kernels' multi-threaded paths; `computeGae` and friends
// route 100 elements to the reference.
const implementations = { native: nativeKernels, reference, routed: { computeGae, groupAdvantages, whiten } } as const;
const LENGTHS = [0, 1, 100, 70_001];

for (const [name, impl] of Object.entries(implementations)) {
  test(`${name}: GAE into out buffers equals GAE into new arrays, and returns the buffers`, () => {
    for (const len of LENGTHS) {
      const offsets = offsetsFor(len);
      const cases = [
        { rewards: floats(len), values: floats(len) },
        { rewards: floats(len), values: floats(len), offsets, mask: bits(len, 0.7), dones: bits(len, 0.05), gamma: 0.99, whiten: true },
        { rewards: floats(len), values: floats(len), offsets, bootstrap: floats(offsets.length - 1), lambda: 0.5 },
      ];
      for (const [i, options] of cases.entries()) {
        const out = { advantages: garbage(len), returns: garbage(len) };
        const fresh = impl.computeGae(options);
        const into = impl.computeGae({ ...options, out });
        assert.equal(into.advantages, out.advantages);
        assert.equal(into.returns, out.returns);
        assertSameBits(into.advantages, fresh.advantages, `advantages, len ${len}, case ${i}`);
        assertSameBits(into.returns, fresh.returns, `returns, len ${len}, case ${i}`);
      }
    }
  });

  test(`${name}: group advantages and whitening into out buffers equal new arrays`, () => {
    for (const len of LENGTHS.map((n) => n - (n % 8))) {
      const rewards = floats(len).map((r) => (r < -0.8 ? NaN : Math.round(r * 4) / 4));
      const groupIds = Int32Array.from({ length: len }, () => Math.floor(random() * 50));
      for (const options of [{ rewards, groupSize: 8 }, { rewards, groupIds, estimator: 'rloo' as const }, { rewards, groupSize: 8, estimator: 'reinforce_pp' as const }]) {
        const out = garbage(len);
        assert.equal(impl.groupAdvantages({ ...options, out }), out);
        assertSameBits(out, impl.groupAdvantages(options), `group advantages, len ${len}`);
      }
      const values = floats(len);
      const mask = bits(len, 0.6);
      const out = garbage(len);
      assert.equal(impl.whiten(values, mask, out), out);
      assertSameBits(out, impl.whiten(values, mask), `whiten, len ${len}`);
    }
  });

  test(`${name}: out buffers of the wrong type, length or memory are refused before any write`, () => {
    const rewards = floats(300);
    const values = floats(300);
    const good = () => new Float32Array(300);
    const gae = (out: unknown) => () => impl.computeGae({ rewards, values, out: out as never });
    throwsCode(gae({ advantages: new Float32Array(299), returns: good() }), 'ERR_INVALID_ARGUMENT', /out\.advantages has length 299 but there are 300 rewards/);
    throwsCode(gae({ advantages: good(), returns: new Float64Array(300) }), 'ERR_INVALID_ARGUMENT', /out\.returns must be a Float32Array of length 300 .*got Float64Array/);
    throwsCode(gae({ advantages: good() }), 'ERR_INVALID_ARGUMENT', /out\.returns must be a Float32Array/);
    throwsCode(gae(new Float32Array(300)), 'ERR_INVALID_ARGUMENT', /out\.advantages must be a Float32Array/);
    throwsCode(gae('buffers'), 'ERR_INVALID_ARGUMENT', /out must be an object \{ advantages, returns \}/);
    throwsCode(gae({ advantages: rewards, returns: good() }), 'ERR_INVALID_ARGUMENT', /out\.advantages shares memory with rewards/);
    const shared = new Float32Array(450);
    throwsCode(gae({ advantages: shared.subarray(0, 300), returns: shared.subarray(150) }), 'ERR_INVALID_ARGUMENT', /out\.advantages shares memory with out\.returns/);
    // A mask viewing the bytes of the returns buffer.
    const returns = good();
    const mask = new Uint8Array(returns.buffer, 0, 300);
    throwsCode(() => impl.computeGae({ rewards, values, mask, out: { advantages: good(), returns } }), 'ERR_INVALID_ARGUMENT', /out\.returns shares memory with mask/);

    throwsCode(() => impl.groupAdvantages({ rewards, groupSize: 3, out: new Float32Array(301) }), 'ERR_INVALID_ARGUMENT', /out has length 301 but there are 300 rewards/);
    throwsCode(() => impl.groupAdvantages({ rewards, groupSize: 3, out: [] as never }), 'ERR_INVALID_ARGUMENT', /out must be a Float32Array .*got Array/);
    throwsCode(() => impl.groupAdvantages({ rewards, groupSize: 3, out: rewards }), 'ERR_INVALID_ARGUMENT', /out shares memory with rewards/);
    throwsCode(() => impl.whiten(values, undefined, new Float32Array(3)), 'ERR_INVALID_ARGUMENT', /out has length 3 but there are 300 values/);
    throwsCode(() => impl.whiten(values, undefined, values), 'ERR_INVALID_ARGUMENT', /out shares memory with values/);

    // An input error leaves the buffers untouched.
    const out = { advantages: garbage(300), returns: garbage(300) };
    throwsCode(() => impl.computeGae({ rewards, values, offsets: [0, 301], out }), 'ERR_INVALID_OFFSETS', /instead of 300/);
    assert.ok(out.advantages.every(Number.isNaN) && out.returns.every(Number.isNaN));
  });
}

test('the addon itself refuses overlapping or mis-sized outputs (not only the TypeScript checks)', () => {
  const rewards = floats(300);
  const values = floats(300);
  const into = (advantages: Float32Array, returns: Float32Array) => () =>
    callNative(() => native.computeGaeInto(rewards, values, undefined, undefined, undefined, undefined, 1, 0.95, false, advantages, returns));
  throwsCode(into(values, new Float32Array(300)), 'ERR_INVALID_ARGUMENT', /out\.advantages shares memory with values/);
  const shared = new Float32Array(600);
  throwsCode(into(shared.subarray(0, 300), shared.subarray(299, 599)), 'ERR_INVALID_ARGUMENT', /out\.advantages shares memory with out\.returns/);
  throwsCode(into(new Float32Array(300), new Float32Array(30)), 'ERR_INVALID_ARGUMENT', /out\.returns has length 30/);
  const group = () => callNative(() => native.groupAdvantagesInto(rewards, 3, undefined, 'grpo', 'group', 1e-4, new Float32Array(5)));
  throwsCode(group, 'ERR_INVALID_ARGUMENT', /out has length 5/);
  throwsCode(() => callNative(() => native.whitenInto(values, undefined, values)), 'ERR_INVALID_ARGUMENT', /out shares memory with values/);
});

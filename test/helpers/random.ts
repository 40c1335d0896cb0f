import { random } from '../../src/train/seeds.js';

/** A small seeded PRNG (mulberry32) so randomized tests are repeatable. */
export const rng = random;

/** Asserts |a - b| <= tol * max(1, |b|) elementwise, naming the first bad index. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-5, what = 'values'): void {
  if (actual.length !== expected.length) throw new Error(`${what}: length ${actual.length} != ${expected.length}`);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const b = expected[i];
    if (Number.isNaN(a) && Number.isNaN(b)) continue;
    if (!(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)))) {
      throw new Error(`${what}[${i}]: ${a} != ${b} (tolerance ${tol})`);
    }
  }
}

/**
 * Every random choice of a run derives from (seed, step, purpose), never from a stream
 * consumed as the run goes: a run resumed at step k then makes exactly the choices an
 * uninterrupted run makes from step k on, with nothing to save but the seed and the step.
 */

/** What a derived seed is for: sampling at a step, evaluating at a step, or the data order of an epoch. */
export type SeedPurpose = 'rollout' | 'eval' | 'scenarios';

const PURPOSE_CODES: Record<SeedPurpose, number> = { rollout: 1, eval: 2, scenarios: 3 };

/** A 32-bit integer hash of its inputs (a murmur3-style finalizer mixed over each word). */
function mix(words: number[]): number {
  let h = 0x9e3779b9;
  for (const word of words) {
    h = Math.imul(h ^ (word >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** The seed of `purpose` at `index` (a step, or an epoch) and `round` (a dynamic-sampling round), in [0, 2^31). */
export function deriveSeed(seed: number, index: number, purpose: SeedPurpose, round = 0): number {
  return mix([seed, Math.floor(seed / 2 ** 32), index, PURPOSE_CODES[purpose], round]) >>> 1;
}

/**
 * The seed of one sampled turn of a rollout batch drawn with `seed`: member `member` of the
 * batch's scenario `group`, at its assistant turn `turn`. In [0, 2^53), so that samples
 * of a large batch practically never share a random stream.
 */
export function sampleSeed(seed: number, group: number, member: number, turn: number): number {
  const words = [seed, Math.floor(seed / 2 ** 32), group, member, turn];
  return (mix([...words, 1]) >>> 11) * 2 ** 32 + mix([...words, 2]);
}

/** A seeded PRNG (mulberry32) for the few shuffles the trainer makes (and the tests). */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A permutation of 0..n-1 drawn from `seed` (Fisher-Yates). */
export function permutation(n: number, seed: number): number[] {
  const next = random(seed);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/**
 * Indices of the `count` items that start at data position `position` of a dataset of
 * `size` items read epoch by epoch, each epoch in its own shuffled order (seeded by the
 * epoch number), so the position alone says where the run is in the data.
 */
export function itemsAt(size: number, position: number, count: number, seed: number): number[] {
  const out: number[] = [];
  let epochOrder: number[] = [];
  let epoch = -1;
  for (let p = position; p < position + count; p++) {
    const e = Math.floor(p / size);
    if (e !== epoch) {
      epoch = e;
      epochOrder = permutation(size, deriveSeed(seed, e, 'scenarios'));
    }
    out.push(epochOrder[p % size]);
  }
  return out;
}

// Random choices derive from (seed, step): the data order is a function of the position alone.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { deriveSeed, itemsAt } from '../src/train/seeds.js';

it('each epoch visits every scenario once, in an order set by the seed', () => {
  const run = itemsAt(5, 0, 15, 42);
  for (let epoch = 0; epoch < 3; epoch++) assert.deepEqual(run.slice(epoch * 5, epoch * 5 + 5).sort(), [0, 1, 2, 3, 4]);
  assert.notDeepEqual(run.slice(0, 5), run.slice(5, 10));
  assert.notDeepEqual(itemsAt(5, 0, 5, 43), run.slice(0, 5));
});

it('reading from a position equals reading up to it and going on', () => {
  assert.deepEqual([...itemsAt(7, 0, 9, 1), ...itemsAt(7, 9, 12, 1)], itemsAt(7, 0, 21, 1));
});

it('seeds differ by step, purpose and round, and stay in [0, 2^31)', () => {
  const seeds = [deriveSeed(0, 0, 'rollout'), deriveSeed(0, 1, 'rollout'), deriveSeed(0, 0, 'eval'), deriveSeed(0, 0, 'rollout', 1), deriveSeed(1, 0, 'rollout')];
  assert.equal(new Set(seeds).size, seeds.length);
  assert.ok(seeds.every((s) => Number.isInteger(s) && s >= 0 && s < 2 ** 31));
  assert.equal(deriveSeed(3, 9, 'rollout'), deriveSeed(3, 9, 'rollout'));
});

// SafeTracker and combineTrackers with real trackers: a throwing tracker does not stop the others.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { combineTrackers, JsonlTracker, SafeTracker, type Tracker } from '../src/index.js';

/** A tracker whose destination breaks at its second step, as a full disk or a bug would. */
function breaksAtSecondStep(calls: number[]): Tracker {
  return {
    logMetrics(step) {
      calls.push(step);
      if (calls.length === 2) throw new Error('disk full');
    },
    async close() {
      calls.push(-1);
    },
  };
}

test('a failing tracker warns once and is skipped; the JSONL tracker beside it keeps every step', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ss-safe-'));
  const calls: number[] = [];
  const warnings: string[] = [];
  const flaky = new SafeTracker(breaksAtSecondStep(calls), { name: 'flaky', warn: (m) => warnings.push(m) });
  const all = combineTrackers([flaky, new JsonlTracker(dir)]);
  for (let step = 1; step <= 4; step++) await all.logMetrics(step, { reward: step });
  await all.logEval?.(4, { reward: 9 });
  await all.close();

  assert.deepEqual(calls, [1, 2], 'no calls after the failure, close included');
  assert.deepEqual(warnings, ['warning: the flaky tracker failed and is now off; training goes on. Cause: disk full']);
  const steps = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l).step);
  assert.deepEqual(steps, [1, 2, 3, 4]);
  assert.equal(JSON.parse(readFileSync(join(dir, 'eval.jsonl'), 'utf8')).reward, 9);
});

test('a rejected promise is caught like a thrown error', async () => {
  const warnings: string[] = [];
  const safe = new SafeTracker({ logMetrics: async () => Promise.reject(new Error('timeout')), close() {} }, { name: 'remote', warn: (m) => warnings.push(m) });
  await safe.logMetrics(1, {});
  await safe.logSamples(1, [{ prompt: 'p', completion: 'c' }]);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /remote tracker failed.*timeout/);
});

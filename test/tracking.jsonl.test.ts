// JSONL run files: one parseable object per line, appended across trackers, non-finite kept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonlTracker } from '../src/index.js';

const lines = (file: string) => readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));

test('metrics, eval and samples go to their own files, one object per line', () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'ss-jsonl-')), 'run');
  const t = new JsonlTracker(dir);
  t.logMetrics(1, { reward: 0.5, kl: 0.01 });
  t.logMetrics(2, { reward: 0.75, loss: NaN, grad: Infinity });
  // Written before close: a crash after this line loses nothing already logged.
  assert.equal(lines(join(dir, 'metrics.jsonl')).length, 2);
  t.logEval(2, { reward: 0.9 });
  t.logSamples(2, [{ prompt: 'hi', completion: 'hello\nthere', reward: 1 }, { prompt: 'a', completion: 'b', extra: { turns: 3 } }]);
  t.close();

  const metrics = lines(join(dir, 'metrics.jsonl'));
  assert.deepEqual(metrics.map(({ time, ...rest }) => (assert.equal(typeof time, 'number'), rest)), [
    { step: 1, reward: 0.5, kl: 0.01 },
    { step: 2, reward: 0.75, loss: 'NaN', grad: 'Infinity' },
  ]);
  assert.deepEqual(lines(join(dir, 'eval.jsonl')).map((r) => [r.step, r.reward]), [[2, 0.9]]);
  assert.deepEqual(lines(join(dir, 'samples.jsonl')), [
    { step: 2, prompt: 'hi', completion: 'hello\nthere', reward: 1 },
    { step: 2, prompt: 'a', completion: 'b', extra: { turns: 3 } },
  ]);
});

test('a resumed run appends to the existing files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ss-jsonl-'));
  const first = new JsonlTracker(dir);
  first.logMetrics(1, { reward: 1 });
  first.close();
  const resumed = new JsonlTracker(dir);
  resumed.logMetrics(2, { reward: 2 });
  resumed.close();
  assert.deepEqual(lines(join(dir, 'metrics.jsonl')).map((r) => r.step), [1, 2]);
});

// TensorBoard event files: CRC32C against published vectors, and a written file decoded back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32c } from '../src/tracking/tensorboard/crc32c.js';
import { TensorBoardTracker } from '../src/index.js';
import { throwsCode } from './helpers/errors.js';
import { readEventFile } from './tracking.tfevents-reader.js';

test('crc32c matches known check values', () => {
  const ascii = (s: string) => new TextEncoder().encode(s);
  assert.equal(crc32c(ascii('123456789')), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(0)), 0);
  // RFC 3720 (iSCSI) appendix B.4 vectors.
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c);
});

test('an event file decodes back to the version header and every scalar', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ss-tb-'));
  const tb = new TensorBoardTracker(dir);
  tb.logMetrics(1, { reward: 0.5, kl: 0.001 });
  tb.logMetrics(2, { reward: -1.25 });
  tb.logEval(2, { reward: 0.75 });
  tb.logMetrics(300_000, { loss: 3.5 });
  tb.close();

  const events = readEventFile(tb.file);
  assert.equal(events.length, 5);
  assert.equal(events[0].fileVersion, 'brain.Event:2');
  assert.ok(Math.abs(events[0].wallTime - Date.now() / 1000) < 3600, 'wall time is seconds since the epoch');
  const scalars = events.slice(1).map((e) => ({ step: e.step, values: e.values.map((v) => [v.tag, v.simpleValue]) }));
  assert.deepEqual(scalars, [
    { step: 1, values: [['train/reward', 0.5], ['train/kl', Math.fround(0.001)]] },
    { step: 2, values: [['train/reward', -1.25]] },
    { step: 2, values: [['eval/reward', 0.75]] },
    { step: 300_000, values: [['train/loss', 3.5]] },
  ]);
});

test('bad steps and writes after close are StatesetErrors', () => {
  const tb = new TensorBoardTracker(mkdtempSync(join(tmpdir(), 'ss-tb-')));
  throwsCode(() => tb.logMetrics(-1, { a: 1 }), 'ERR_INVALID_ARGUMENT', /step must be a non-negative integer, got -1/);
  tb.close();
  throwsCode(() => tb.logMetrics(1, { a: 1 }), 'ERR_TRACKER', /already closed/);
});

// Console progress: plain lines off a terminal or when quiet, a live bar on a terminal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { ConsoleTracker } from '../src/index.js';
import { throwsCode } from './helpers/errors.js';

function capture(isTTY: boolean): { stream: PassThrough & { isTTY?: boolean; columns?: number }; text: () => Promise<string> } {
  const stream: PassThrough & { isTTY?: boolean; columns?: number } = new PassThrough();
  stream.isTTY = isTTY;
  stream.columns = 120;
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, // PassThrough emits 'data' on a later tick.
  text: () => new Promise((resolve) => setImmediate(() => resolve(Buffer.concat(chunks).toString('utf8')))) };
}

test('off a terminal: one plain line per step with reward, KL and ETA, and eval lines', async () => {
  const out = capture(false);
  const tracker = new ConsoleTracker({ totalSteps: 10, stream: out.stream });
  tracker.logMetrics(1, { reward: 0.123456, kl: 0.00012346 });
  tracker.logMetrics(2, { reward: 0.5 });
  tracker.logEval(2, { reward: 0.75, accuracy: 1 });
  tracker.close();
  const lines = (await out.text()).trimEnd().split('\n');
  assert.equal(lines.length, 3);
  assert.equal(lines[0], 'step 1/10 | reward 0.1235 | kl 0.0001235 | ETA -');
  assert.match(lines[1], /^step 2\/10 \| reward 0\.5 \| kl - \| ETA \d+s$/);
  assert.equal(lines[2], 'eval at step 2 | reward 0.75 | accuracy 1');
  assert.doesNotMatch(await out.text(), /\x1b\[/, 'no terminal escape codes in plain output');
});

test('quiet on a terminal still prints plain lines', async () => {
  const out = capture(true);
  const tracker = new ConsoleTracker({ totalSteps: 3, quiet: true, stream: out.stream });
  tracker.logMetrics(1, { reward: 1, kl: 0 });
  tracker.close();
  assert.match(await out.text(), /^step 1\/3 \| reward 1 \| kl 0 \| ETA -\n$/);
});

test('on a terminal: a progress bar with step/total, reward and KL', async () => {
  const out = capture(true);
  const tracker = new ConsoleTracker({ totalSteps: 4, stream: out.stream });
  tracker.logMetrics(1, { reward: 0.25, kl: 0.5 });
  tracker.logEval(1, { reward: 0.3 });
  tracker.logMetrics(4, { reward: 0.75, kl: 0.125 });
  tracker.close();
  const text = await out.text();
  assert.match(text, /\x1b\[/, 'the bar redraws with terminal escape codes');
  assert.match(text, /4\/4 \| ETA \S+ \| reward 0\.75 \| kl 0\.125/);
  assert.match(text, /eval at step 1 \| reward 0\.3/);
});

test('a missing or bad total is a StatesetError', () => {
  for (const totalSteps of [0, 2.5, NaN]) {
    throwsCode(() => new ConsoleTracker({ totalSteps }), 'ERR_INVALID_ARGUMENT', /totalSteps must be a positive integer/);
  }
});

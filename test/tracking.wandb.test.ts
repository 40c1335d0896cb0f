// The W&B tracker against a loopback HTTP server that records every request and answers
// like the W&B API; failures go through SafeTracker, which warns once and switches off.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SafeTracker, WandbTracker } from '../src/index.js';
import { throwsCode } from './helpers/errors.js';

interface Recorded {
  url: string;
  authorization?: string;
  body: any;
}

async function recordingServer(answer: (req: Recorded) => { status: number; body: unknown }): Promise<{ url: string; requests: Recorded[]; server: Server }> {
  const requests: Recorded[] = [];
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (chunk) => (text += chunk));
    req.on('end', () => {
      const recorded = { url: req.url ?? '', authorization: req.headers.authorization, body: JSON.parse(text) };
      requests.push(recorded);
      const { status, body } = answer(recorded);
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests, server };
}

/** Answers like W&B: the viewer's entity, a created run, and accepted file_stream posts. */
function wandbLike(req: Recorded): { status: number; body: unknown } {
  if (req.url !== '/graphql') return { status: 200, body: {} };
  if (req.body.query.includes('viewer')) return { status: 200, body: { data: { viewer: { entity: 'alice' } } } };
  const v = req.body.variables;
  return { status: 200, body: { data: { upsertBucket: { bucket: { name: v.name, project: { name: v.project, entity: { name: v.entity } } } } } } };
}

test('a run is created, metrics stream in order with offsets, and the run is completed', async (t) => {
  const wandb = await recordingServer(wandbLike);
  t.after(() => wandb.server.close());
  const tracker = new WandbTracker({ project: 'demo', name: 'first run', config: { lr: 1e-5 }, apiKey: 'k'.repeat(40), baseUrl: wandb.url, runId: 'run12345', flushIntervalMs: 60_000 });
  tracker.logMetrics(1, { reward: 0.5, kl: 0.01 });
  tracker.logMetrics(2, { reward: 0.75 });
  await tracker.flush();
  tracker.logEval(2, { reward: 0.9 });
  await tracker.close();

  const [viewer, upsert, ...streams] = wandb.requests;
  assert.equal(viewer.authorization, `Basic ${Buffer.from(`api:${'k'.repeat(40)}`).toString('base64')}`);
  assert.match(viewer.body.query, /viewer/);
  assert.deepEqual(upsert.body.variables, { name: 'run12345', project: 'demo', entity: 'alice', displayName: 'first run', config: JSON.stringify({ lr: { value: 1e-5, desc: null } }) });
  assert.deepEqual(streams.map((s) => s.url), Array(3).fill('/files/alice/demo/run12345/file_stream'));

  const history = (s: Recorded) => s.body.files['wandb-history.jsonl'];
  const rows = (s: Recorded) => history(s).content.map((line: string) => JSON.parse(line));
  assert.equal(history(streams[0]).offset, 0);
  assert.deepEqual(rows(streams[0]).map((r: any) => [r._step, r['train/reward'], r['train/kl']]), [[1, 0.5, 0.01], [2, 0.75, undefined]]);
  assert.equal(history(streams[1]).offset, 2);
  assert.deepEqual(rows(streams[1]).map((r: any) => [r._step, r['eval/reward']]), [[2, 0.9]]);
  const summary = JSON.parse(streams[1].body.files['wandb-summary.json'].content[0]);
  assert.equal(summary['train/reward'], 0.75);
  assert.equal(summary['eval/reward'], 0.9);
  assert.deepEqual(streams[2].body, { complete: true, exitcode: 0 });
});

test('key and base URL come from WANDB_API_KEY and WANDB_BASE_URL; rows flush on a timer', async (t) => {
  const wandb = await recordingServer(wandbLike);
  const saved = { key: process.env.WANDB_API_KEY, url: process.env.WANDB_BASE_URL };
  t.after(() => {
    wandb.server.close();
    for (const [name, value] of [['WANDB_API_KEY', saved.key], ['WANDB_BASE_URL', saved.url]] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });
  process.env.WANDB_API_KEY = 'env-key';
  process.env.WANDB_BASE_URL = `${wandb.url}/`;
  const tracker = new WandbTracker({ project: 'demo', entity: 'team', flushIntervalMs: 1 });
  tracker.logMetrics(7, { reward: 1 });
  while (!wandb.requests.some((r) => r.url.endsWith('/file_stream'))) await new Promise((r) => setTimeout(r, 5));
  await tracker.close();
  assert.equal(wandb.requests[0].authorization, `Basic ${Buffer.from('api:env-key').toString('base64')}`);
  assert.equal(wandb.requests.filter((r) => r.body.query?.includes('viewer')).length, 0, 'a given entity needs no viewer query');
  assert.match(wandb.requests[1].url, new RegExp(`^/files/team/demo/${tracker.runId}/file_stream$`));
});

test('missing API key is a clear StatesetError', () => {
  const saved = process.env.WANDB_API_KEY;
  delete process.env.WANDB_API_KEY;
  try {
    throwsCode(() => new WandbTracker({ project: 'demo' }), 'ERR_TRACKER', /needs an API key: set WANDB_API_KEY/);
  } finally {
    if (saved !== undefined) process.env.WANDB_API_KEY = saved;
  }
});

test('a rejected key: SafeTracker warns once, stops calling, and training code sees no error', async (t) => {
  const wandb = await recordingServer(() => ({ status: 401, body: { errors: [{ message: 'invalid api key' }] } }));
  t.after(() => wandb.server.close());
  const warnings: string[] = [];
  const safe = new SafeTracker(new WandbTracker({ project: 'demo', apiKey: 'bad', baseUrl: wandb.url, flushIntervalMs: 60_000 }), { name: 'wandb', warn: (m) => warnings.push(m) });
  await safe.logMetrics(1, { reward: 1 });
  await safe.close(); // the first send happens here and fails
  await safe.logMetrics(2, { reward: 2 });
  await safe.close();
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /wandb tracker failed.*401.*WANDB_API_KEY/);
  assert.ok(safe.disabled);
  assert.equal(wandb.requests.length, 1, 'no request after the failure');
});

test('no server listening: retries, then SafeTracker switches the tracker off', async () => {
  const closed = await recordingServer(wandbLike);
  await new Promise((resolve) => closed.server.close(resolve));
  const warnings: string[] = [];
  const safe = new SafeTracker(new WandbTracker({ project: 'demo', entity: 'e', apiKey: 'k', baseUrl: closed.url, retries: 1, retryDelayMs: 1 }), { name: 'wandb', warn: (m) => warnings.push(m) });
  await safe.logMetrics(1, { reward: 1 });
  await safe.close();
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /could not reach W&B/);
});

test('a 5xx is retried and the send then succeeds', async (t) => {
  let failuresLeft = 2;
  const wandb = await recordingServer((req) => (failuresLeft-- > 0 ? { status: 503, body: {} } : wandbLike(req)));
  t.after(() => wandb.server.close());
  const tracker = new WandbTracker({ project: 'p', entity: 'e', apiKey: 'k', baseUrl: wandb.url, retries: 2, retryDelayMs: 1 });
  tracker.logMetrics(1, { reward: 1 });
  await tracker.close();
  assert.deepEqual(wandb.requests.map((r) => r.url), ['/graphql', '/graphql', '/graphql', '/files/e/p/' + tracker.runId + '/file_stream', '/files/e/p/' + tracker.runId + '/file_stream']);
});

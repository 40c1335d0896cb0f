// The OpenAI-compatible server's limits, on loopback with a tiny model (512 positions):
// every bad request is refused before a stream starts, an error inside a stream ends it
// cleanly, oversize bodies are refused unread, and a large request being tokenized does
// not hold up the others.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import OpenAI from 'openai';
import { Agent, loadModel, serveOpenAI, StatesetError, type Policy, type RunningServer } from '../src/index.js';
import { DEFAULT_MAX_BODY_BYTES } from '../src/serve/openai-server.js';
import { MAX_REQUEST_DEPTH } from '../src/serve/openai-request.js';
import { tinyModelDir } from './helpers/tiny-agent.js';

const model = await loadModel(tinyModelDir('llama'));
const CONTEXT = model.config.maxPositionEmbeddings;

/** The real model as an agent's policy, with `hooks` around its engine calls. */
function policyWith(hooks: { generate?: (call: number) => void; tokenizeAsync?: () => void; keepGoing?: boolean } = {}): Policy {
  let calls = 0;
  return {
    config: model.config,
    tokenize: (text) => model.tokenize(text),
    tokenizeAsync: (text) => {
      hooks.tokenizeAsync?.();
      return model.tokenizeAsync(text);
    },
    detokenize: (ids) => model.detokenize(ids),
    generate: (prompts, options) => {
      hooks.generate?.(++calls);
      // keepGoing: no stop tokens, so a stream runs every one of its chunks.
      return model.generate(prompts, hooks.keepGoing ? { ...options, stopTokenIds: [] } : options);
    },
  };
}

const servers: RunningServer[] = [];
after(() => Promise.all(servers.map((s) => s.close())));

async function start(policy: Policy, options: Parameters<typeof serveOpenAI>[1] = {}): Promise<RunningServer> {
  const agent = await Agent.create({ model: tinyModelDir('llama'), generation: { maxNewTokens: 12 } }, { policy });
  const server = await serveOpenAI(agent, { port: 0, modelName: 'tiny', ...options });
  servers.push(server);
  return server;
}

const server = await start(policyWith());

function post(target: RunningServer, body: unknown): Promise<Response> {
  return fetch(`${target.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

interface ErrorBody {
  error: { message: string; type: string; code: string };
}

/** The server-sent events of a response: `event` (when named) and `data` of each. */
async function events(response: Response): Promise<{ event?: string; data: string }[]> {
  const text = await response.text();
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const lines = block.split('\n');
      const event = lines.find((l) => l.startsWith('event: '))?.slice('event: '.length);
      const data = lines.filter((l) => l.startsWith('data: ')).map((l) => l.slice('data: '.length)).join('\n');
      return event === undefined ? { data } : { event, data };
    });
}

const hello = [{ role: 'user' as const, content: 'Hello' }];

function nested(depth: number): Record<string, unknown> {
  let value: Record<string, unknown> = { type: 'string' };
  for (let i = 0; i < depth; i++) value = { type: 'object', properties: { inner: value } };
  return value;
}

test('every bad streaming request gets its 400, as OpenAI error JSON, before any stream byte', async () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['a prompt past the context', { messages: [{ role: 'user', content: 'word '.repeat(5000) }] }, /positions/],
    ['max_tokens 1e9', { messages: hello, max_tokens: 1e9 }, /positions|maxNewTokens/],
    ['room for the prompt but not for max_tokens', { messages: hello, max_tokens: CONTEXT - 5 }, /positions/],
    ['messages that are not a list', { messages: 'Hello' }, /request\.messages: expected a list/],
    ['a wrong type deep inside', { messages: [{ role: 'user', content: [{ type: 'text', text: 5 }] }] }, /request\.messages\.0\.content/],
    ['an image part', { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] }, /request\.messages\.0\.content/],
    ['n > 1', { messages: hello, n: 2 }, /request\.n: this server returns one choice/],
    ['an unknown model', { messages: hello, model: 'gpt-4o' }, /request\.model: this server serves "tiny"/],
    ['an unknown field', { messages: hello, temprature: 0.5 }, /temprature: unknown key, did you mean "temperature"/],
    ['stop sequences', { messages: hello, stop: ['\n'] }, /request\.stop: stop sequences are not supported/],
    ['a JSON response format', { messages: hello, response_format: { type: 'json_object' } }, /request\.response_format/],
    ['a tool message that answers no call', { messages: [...hello, { role: 'tool', content: '42' }] }, /request\.messages\.1\.tool_call_id/],
    ['tool call arguments that are not an object', { messages: [{ role: 'assistant', content: null, tool_calls: [{ id: 'a', type: 'function', function: { name: 'f', arguments: '[1]' } }] }] }, /arguments: must be a JSON object/],
    ['a user message without content', { messages: [{ role: 'user' }] }, /request\.messages\.0\.content: a user message needs content/],
    ['a seed out of range', { messages: hello, seed: -1 }, /request\.seed/],
    ['more messages than the model has positions', { messages: Array.from({ length: CONTEXT + 1 }, () => ({ role: 'user', content: 'x' })) }, /513 messages cannot fit the model's 512 positions/],
    ['a tool schema nested past the limit', { messages: hello, tools: [{ type: 'function', function: { name: 'f', parameters: nested(MAX_REQUEST_DEPTH) } }] }, /more than 64 levels deep/],
  ];
  for (const [what, fields, message] of cases) {
    for (const stream of [true, false]) {
      const response = await post(server, { model: 'tiny', ...fields, stream });
      assert.equal(response.status, 400, `${what} (stream: ${stream})`);
      assert.match(response.headers.get('content-type') ?? '', /^application\/json/, `${what}: no stream was started`);
      const body = (await response.json()) as ErrorBody;
      assert.equal(body.error.type, 'invalid_request_error', what);
      assert.match(body.error.code, /^ERR_INVALID_/, what);
      assert.match(body.error.message, message, `${what}: ${body.error.message}`);
    }
  }
});

test('bodies that are not a request object get 400; unknown routes get 404 as JSON', async () => {
  for (const body of ['{', 'null', '[1]', '"x"', '', 'x'.repeat(1000)]) {
    const response = await post(server, body);
    assert.equal(response.status, 400, JSON.stringify(body.slice(0, 10)));
    assert.equal(((await response.json()) as ErrorBody).error.code, 'ERR_INVALID_ARGUMENT');
  }
  const missing = await fetch(`${server.baseURL}/completions`, { method: 'POST', body: '{}' });
  assert.equal(missing.status, 404);
  assert.match(((await missing.json()) as ErrorBody).error.message, /POST \/v1\/chat\/completions/);
});

test('fields OpenAI clients send at their neutral values are accepted', async () => {
  const response = await post(server, {
    model: 'tiny',
    messages: [{ role: 'developer', content: 'Be brief.' }, { role: 'user', content: [{ type: 'text', text: 'Hello' }] }],
    max_completion_tokens: 3,
    n: 1,
    stop: null,
    frequency_penalty: 0,
    presence_penalty: 0,
    logprobs: false,
    response_format: { type: 'text' },
    stream_options: null,
    tool_choice: 'none',
    user: 'someone',
    temperature: null,
  });
  assert.equal(response.status, 200);
  const body = (await response.json()) as { usage: { completion_tokens: number } };
  assert.ok(body.usage.completion_tokens <= 3);
});

test('agent.stream refuses a prompt that leaves no room for maxNewTokens on its first next(), before the engine runs', async () => {
  let engineCalls = 0;
  const agent = await Agent.create({ model: tinyModelDir('llama') }, { policy: policyWith({ generate: () => engineCalls++ }) });
  const pieces = agent.stream(hello, { generation: { maxNewTokens: CONTEXT } });
  await assert.rejects(pieces.next(), (e: unknown) => e instanceof StatesetError && e.code === 'ERR_INVALID_PARAMETER' && /plus maxNewTokens \(512\) exceeds the model's 512 positions/.test(e.message));
  assert.equal(engineCalls, 0);
});

test('a normal stream ends with its finish reason, then [DONE]', async () => {
  const response = await post(server, { model: 'tiny', messages: hello, max_tokens: 40, stream: true, temperature: 0 });
  assert.equal(response.status, 200);
  const all = await events(response);
  assert.equal(all.at(-1)!.data, '[DONE]');
  const chunks = all.slice(0, -1).map((e) => JSON.parse(e.data) as { choices: { finish_reason: string | null }[] });
  const finishes = chunks.map((c) => c.choices[0].finish_reason).filter((f) => f !== null);
  assert.equal(finishes.length, 1);
  assert.ok(['stop', 'length'].includes(finishes[0]!));
  assert.ok(all.every((e) => e.event === undefined), 'no error event');
});

test('a stream that reaches its last chunks with the largest seed still ends normally', async () => {
  // Each chunk of a stream samples with seed + chunk: from the largest seed that wraps.
  const target = await start(policyWith({ keepGoing: true }));
  const response = await post(target, { model: 'tiny', messages: hello, max_tokens: 40, stream: true, seed: Number.MAX_SAFE_INTEGER });
  const all = await events(response);
  assert.equal(all.at(-1)!.data, '[DONE]');
  const last = JSON.parse(all.at(-2)!.data) as { choices: { finish_reason: string }[] };
  assert.equal(last.choices[0].finish_reason, 'length');
});

test('an error inside a stream ends it with an error event and [DONE], and one line on stderr', async () => {
  const failing = policyWith({
    keepGoing: true,
    // The second engine call of each stream (of 40 tokens: three calls) fails.
    generate: (call) => {
      if (call % 2 === 0) throw new StatesetError('ERR_COMPUTE', 'the engine failed on purpose (test)');
    },
  });
  const target = await start(failing);
  const written: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string | Uint8Array) => (written.push(String(chunk)), true)) as typeof process.stderr.write;
  let all: { event?: string; data: string }[];
  try {
    const response = await post(target, { model: 'tiny', messages: hello, max_tokens: 40, stream: true });
    assert.equal(response.status, 200);
    all = await events(response);
  } finally {
    process.stderr.write = write;
  }
  const first = JSON.parse(all[0].data) as { choices: { delta: { role: string } }[] };
  assert.equal(first.choices[0].delta.role, 'assistant');
  assert.ok(all.some((e) => e.event === undefined && e.data !== '[DONE]' && (JSON.parse(e.data) as { choices: { delta: { content?: string } }[] }).choices[0].delta.content), 'text came before the error');
  const [error, done] = all.slice(-2);
  assert.equal(error.event, 'error');
  const body = JSON.parse(error.data) as ErrorBody;
  assert.equal(body.error.code, 'ERR_COMPUTE');
  assert.equal(body.error.type, 'server_error');
  assert.match(body.error.message, /failed on purpose/);
  assert.equal(done.data, '[DONE]');
  const lines = written.join('').split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, written.join(''));
  assert.match(lines[0], /ERR_COMPUTE/);

  // An OpenAI client reads the error event as an APIError.
  const client = new OpenAI({ baseURL: target.baseURL, apiKey: 'unused' });
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    const stream = await client.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 40, stream: true });
    await assert.rejects(async () => {
      for await (const _ of stream);
    }, /failed on purpose/);
  } finally {
    process.stderr.write = write;
  }
});

function rawPost(target: RunningServer, chunks: Buffer[], headers: Record<string, string | number>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${target.baseURL}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    // The server may answer (and close) before the whole body is sent: that is the point.
    req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? undefined : reject(err)));
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

test('a body over the limit is refused with 413 before it is parsed', async () => {
  const limit = 4096;
  const target = await start(policyWith(), { maxBodyBytes: limit });
  // Not JSON at all: a 400 would mean it had been read and parsed.
  const junk = Buffer.alloc(limit + 1, '{');
  const declared = await rawPost(target, [junk], { 'content-length': junk.length });
  assert.equal(declared.status, 413);
  const error = (JSON.parse(declared.body) as ErrorBody).error;
  assert.match(error.message, /limit of 4096 bytes/);
  // Chunked, with no length declared: counted as it arrives.
  const chunked = await rawPost(target, [junk.subarray(0, 3000), junk.subarray(3000)], { 'transfer-encoding': 'chunked' });
  assert.equal(chunked.status, 413);
  // At the limit: read and parsed (and refused for what it is).
  const atLimit = Buffer.alloc(limit, '{');
  assert.equal((await rawPost(target, [atLimit], { 'content-length': atLimit.length })).status, 400);
  // The default limit is 1 MiB.
  const overDefault = Buffer.alloc(DEFAULT_MAX_BODY_BYTES + 1, ' ');
  assert.equal((await rawPost(server, [overDefault], { 'content-length': overDefault.length })).status, 413);
  await assert.rejects(serveOpenAI(await Agent.create({ model: tinyModelDir('llama') }, { policy: policyWith() }), { port: 0, maxBodyBytes: 0 }), /maxBodyBytes must be a positive integer/);
});

test('a small request is answered while a max-size request is being tokenized', async () => {
  let tokenizing!: () => void;
  const started = new Promise<void>((resolve) => (tokenizing = resolve));
  const target = await start(policyWith({ tokenizeAsync: () => tokenizing() }));
  // The largest body the server reads: about 1.5 s of tokenizing, past the context.
  const envelope = JSON.stringify({ model: 'tiny', messages: [{ role: 'user', content: '' }], stream: true });
  const text = 'customer order refund parcel '.repeat(DEFAULT_MAX_BODY_BYTES).slice(0, DEFAULT_MAX_BODY_BYTES - envelope.length);
  const order: string[] = [];
  const large = post(target, { model: 'tiny', messages: [{ role: 'user', content: text }], stream: true }).then(async (r) => {
    order.push('large');
    return r;
  });
  await started;
  const small = await post(target, { model: 'tiny', messages: hello, max_tokens: 2 });
  order.push('small');
  assert.equal(small.status, 200);
  const big = await large;
  assert.equal(big.status, 400, 'the large one is refused: it does not fit the context');
  assert.match(((await big.json()) as ErrorBody).error.message, /positions/);
  assert.deepEqual(order, ['small', 'large']);
});

test('tokenizeAsync gives the tokens of tokenize and leaves the event loop running meanwhile', async () => {
  const text = 'the parcel is late, I would like a refund '.repeat(20_000);
  let done = false;
  let ticks = 0;
  const tick = () => {
    ticks++;
    if (!done) setImmediate(tick);
  };
  setImmediate(tick);
  const ids = await model.tokenizeAsync(text);
  const ticksWhileTokenizing = ticks;
  done = true;
  assert.ok(ticksWhileTokenizing > 0, 'the event loop turned while the text was tokenized');
  assert.deepEqual(ids, model.tokenize(text));
});

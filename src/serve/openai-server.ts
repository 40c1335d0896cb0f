/**
 * An OpenAI-compatible HTTP server for an Agent: POST /v1/chat/completions (plain or
 * streamed as server-sent events) and GET /v1/models. Any OpenAI client, a simulated
 * user or an LLM judge of the project can talk to a local model through it.
 *
 * A request is refused before any work when its body is too large (413, unread), and
 * before any stream byte when anything in it is wrong (400, OpenAI's error JSON): a
 * stream is answered 200 only once its prompt is tokenized, checked against the context
 * and its first text generated. An error after that ends the stream with an error event
 * and [DONE].
 *
 * What a large request costs the event loop (measured with a 1 MiB body on a busy 2-core
 * machine): tokenizing about 1.5 s, so it runs on a worker thread (Model.tokenizeAsync);
 * parsing and validating the JSON 10-50 ms, bounded by maxBodyBytes; rendering the chat
 * template about 40 us per message, bounded by refusing more messages than the model has
 * positions (0.3 s at 8192).
 */
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename } from 'node:path';
import { serve } from '@hono/node-server';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { streamSSE, type SSEStreamingApi } from 'hono/streaming';
import type { Agent } from '../agent/agent.js';
import { StatesetError } from '../core/errors.js';
import type { Message } from '../core/messages.js';
import { positiveInteger } from '../core/validate.js';
import { parseChatRequest, type ChatRequest } from './openai-request.js';

/** Default largest request body: room for a long conversation, bounded tokenizing work. */
export const DEFAULT_MAX_BODY_BYTES = 1 << 20;

export interface OpenAIServerOptions {
  /** The model id the server reports, and the only one a request may name. Default: the model path's last part. */
  modelName?: string;
  /** Larger request bodies are refused with 413 before they are read. Default 1 MiB. */
  maxBodyBytes?: number;
  /** Where each failed request is reported, one line (no stack trace). Default: stderr. */
  log?: (line: string) => void;
}

type Meta = { id: string; created: number; model: string };

export function createOpenAIApp(agent: Agent, options: OpenAIServerOptions = {}): Hono {
  const modelName = options.modelName ?? basename(agent.config.model);
  const maxBodyBytes = positiveInteger('maxBodyBytes', options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES, 'ERR_INVALID_ARGUMENT');
  const log = options.log ?? ((line: string) => console.error(line));
  const served = { name: modelName, positions: agent.policy.config.maxPositionEmbeddings };
  const app = new Hono();

  app.get('/v1/models', (c) => c.json({ object: 'list', data: [{ id: modelName, object: 'model', created: 0, owned_by: 'stateset-agents' }] }));

  const limit = bodyLimit({
    maxSize: maxBodyBytes,
    onError: (c) =>
      errorJson(c, 413, 'ERR_INVALID_ARGUMENT', `the request body is over the server's limit of ${maxBodyBytes} bytes; send a shorter conversation, or raise the server's maxBodyBytes option`),
  });

  app.post('/v1/chat/completions', limit, async (c) => {
    const meta = { id: `chatcmpl-${randomUUID()}`, created: Math.floor(Date.now() / 1000), model: modelName };
    try {
      const request = parseChatRequest(parseJsonBody(await c.req.text()), served);
      return request.stream ? await streamCompletion(c, agent, request, meta, log) : await completion(c, agent, request, meta);
    } catch (err) {
      return errorResponse(c, err, log, meta.id);
    }
  });

  app.notFound((c) => errorJson(c, 404, 'ERR_INVALID_ARGUMENT', `no route ${c.req.method} ${c.req.path}; this server has POST /v1/chat/completions and GET /v1/models`));
  app.onError((err, c) => errorResponse(c, err, log, c.req.path));
  return app;
}

function parseJsonBody(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new StatesetError('ERR_INVALID_ARGUMENT', `the request body is not JSON: ${(err as Error).message}`);
  }
}

async function completion(c: Context, agent: Agent, request: ChatRequest, meta: Meta): Promise<Response> {
  const { message, completion, promptTokens } = await agent.reply(request.messages, { generation: request.generation, tools: request.tools });
  const toolCalls = request.tools ? message.toolCalls : undefined;
  return c.json({
    ...meta,
    object: 'chat.completion',
    choices: [{ index: 0, message: toOpenAIMessage(message, toolCalls !== undefined), finish_reason: toolCalls ? 'tool_calls' : completion.finishReason, logprobs: null }],
    usage: { prompt_tokens: promptTokens, completion_tokens: completion.tokens.length, total_tokens: promptTokens + completion.tokens.length },
  });
}

/**
 * Agent.stream checks everything a plain reply would on its first `next()`, so that call
 * is made before the response starts: a bad request still gets its 400, and a stream
 * once begun has only engine failures left to meet.
 */
async function streamCompletion(c: Context, agent: Agent, request: ChatRequest, meta: Meta, log: (line: string) => void): Promise<Response> {
  const pieces = agent.stream(request.messages, { generation: request.generation, tools: request.tools });
  const first = await pieces.next();
  const chunk = (delta: Record<string, unknown>, finishReason: string | null) =>
    JSON.stringify({ ...meta, object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finishReason }] });
  return streamSSE(c, async (sse) => {
    let disconnected = false;
    sse.onAbort(() => {
      disconnected = true;
    });
    try {
      await sse.writeSSE({ data: chunk({ role: 'assistant', content: '' }, null) });
      // A client that went away stops the generation at the next chunk boundary.
      for (let next = first; !disconnected; next = await pieces.next()) {
        if (next.done) {
          await sse.writeSSE({ data: chunk({}, next.value) });
          break;
        }
        await sse.writeSSE({ data: chunk({ content: next.value }, null) });
      }
    } catch (err) {
      await writeStreamError(sse, err, log, meta.id);
    }
    await sse.writeSSE({ data: '[DONE]' });
  });
}

/** OpenAI's shape for an error inside a stream: an `error` event whose data is the error JSON. */
async function writeStreamError(sse: SSEStreamingApi, err: unknown, log: (line: string) => void, id: string): Promise<void> {
  const { status, body } = describeError(err);
  log(`openai server: ${id} stream ended by ${status === 400 ? 'a bad request' : 'an error'} (${body.error.code}): ${oneLine(body.error.message)}`);
  await sse.writeSSE({ event: 'error', data: JSON.stringify(body) });
}

function toOpenAIMessage(message: Message, withToolCalls: boolean): Record<string, unknown> {
  if (!withToolCalls) return { role: 'assistant', content: message.content };
  return {
    role: 'assistant',
    content: message.content,
    tool_calls: message.toolCalls!.map((call) => ({ id: call.id, type: 'function', function: { name: call.name, arguments: JSON.stringify(call.arguments) } })),
  };
}

/**
 * The request's own fault (a bad field, a prompt past the context, a conversation its
 * chat template refuses) is 400; anything else is the server's, 500, and logged.
 */
function describeError(err: unknown): { status: 400 | 500; body: { error: { message: string; type: string; code: string } } } {
  const code = err instanceof StatesetError ? err.code : 'ERR_INTERNAL';
  const clientError = code.startsWith('ERR_INVALID') || code === 'ERR_CHAT_TEMPLATE';
  const message = err instanceof Error ? err.message : String(err);
  return { status: clientError ? 400 : 500, body: { error: { message, type: clientError ? 'invalid_request_error' : 'server_error', code } } };
}

function errorResponse(c: Context, err: unknown, log: (line: string) => void, what: string): Response {
  const { status, body } = describeError(err);
  if (status === 500) log(`openai server: ${what} failed (${body.error.code}): ${oneLine(body.error.message)}`);
  return c.json(body, status);
}

function errorJson(c: Context, status: 404 | 413, code: string, message: string): Response {
  return c.json({ error: { message, type: 'invalid_request_error', code } }, status);
}

const oneLine = (text: string) => text.replace(/\s*\n\s*/g, ' ');

export interface RunningServer {
  /** e.g. http://127.0.0.1:41234/v1, the base URL for OpenAI clients. */
  baseURL: string;
  port: number;
  close(): Promise<void>;
}

/** Serves the agent on `hostname:port` (port 0 picks a free one). Default 127.0.0.1:8000. */
export async function serveOpenAI(agent: Agent, options: OpenAIServerOptions & { port?: number; hostname?: string } = {}): Promise<RunningServer> {
  const hostname = options.hostname ?? '127.0.0.1';
  const app = createOpenAIApp(agent, options);
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port: options.port ?? 8000, hostname }, (info: AddressInfo) => {
      resolve({
        baseURL: `http://${hostname}:${info.port}/v1`,
        port: info.port,
        close: () =>
          new Promise<void>((done, fail) => {
            server.close((err) => (err ? fail(err) : done()));
            // Clients keep connections alive; without this, close waits for them to time out.
            (server as Server).closeAllConnections();
          }),
      });
    });
    server.once('error', reject);
  });
}

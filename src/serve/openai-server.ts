/**
 * An OpenAI-compatible HTTP server for an Agent: POST /v1/chat/completions (plain or
 * streamed as server-sent events) and GET /v1/models. Any OpenAI client, a simulated
 * user or an LLM judge of the project can talk to a local model through it.
 */
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename } from 'node:path';
import { serve } from '@hono/node-server';
import { Hono, type Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { Agent } from '../agent/agent.js';
import { StatesetError } from '../core/errors.js';
import type { Message } from '../core/messages.js';
import { parseChatRequest, type ChatRequest } from './openai-request.js';

export interface OpenAIServerOptions {
  /** The model id the server reports. Default: the model path's last part. */
  modelName?: string;
}

export function createOpenAIApp(agent: Agent, options: OpenAIServerOptions = {}): Hono {
  const modelName = options.modelName ?? basename(agent.config.model);
  const app = new Hono();

  app.get('/v1/models', (c) => c.json({ object: 'list', data: [{ id: modelName, object: 'model', created: 0, owned_by: 'stateset-agents' }] }));

  app.post('/v1/chat/completions', async (c) => {
    let request: ChatRequest;
    try {
      request = parseChatRequest(await c.req.json());
    } catch (err) {
      return errorResponse(c, err instanceof SyntaxError ? new StatesetError('ERR_INVALID_ARGUMENT', `the request body is not JSON: ${err.message}`) : err);
    }
    const id = `chatcmpl-${randomUUID()}`;
    const created = Math.floor(Date.now() / 1000);
    if (request.stream) return streamCompletion(c, agent, request, { id, created, model: modelName });
    try {
      const { message, completion, promptTokens } = await agent.reply(request.messages, { generation: request.generation, tools: request.tools });
      const toolCalls = request.tools ? message.toolCalls : undefined;
      return c.json({
        id,
        object: 'chat.completion',
        created,
        model: modelName,
        choices: [
          {
            index: 0,
            message: toOpenAIMessage(message, toolCalls !== undefined),
            finish_reason: toolCalls ? 'tool_calls' : completion.finishReason,
            logprobs: null,
          },
        ],
        usage: { prompt_tokens: promptTokens, completion_tokens: completion.tokens.length, total_tokens: promptTokens + completion.tokens.length },
      });
    } catch (err) {
      return errorResponse(c, err);
    }
  });

  return app;
}

function streamCompletion(c: Context, agent: Agent, request: ChatRequest, meta: { id: string; created: number; model: string }): Response {
  const chunk = (delta: Record<string, unknown>, finishReason: string | null) =>
    JSON.stringify({ ...meta, object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finishReason }] });
  return streamSSE(c, async (sse) => {
    const pieces = agent.stream(request.messages, { generation: request.generation, tools: request.tools });
    await sse.writeSSE({ data: chunk({ role: 'assistant', content: '' }, null) });
    for (let next = await pieces.next(); ; next = await pieces.next()) {
      if (next.done) {
        await sse.writeSSE({ data: chunk({}, next.value) });
        break;
      }
      await sse.writeSSE({ data: chunk({ content: next.value }, null) });
    }
    await sse.writeSSE({ data: '[DONE]' });
  });
}

function toOpenAIMessage(message: Message, withToolCalls: boolean): Record<string, unknown> {
  if (!withToolCalls) return { role: 'assistant', content: message.content };
  return {
    role: 'assistant',
    content: message.content,
    tool_calls: message.toolCalls!.map((call) => ({ id: call.id, type: 'function', function: { name: call.name, arguments: JSON.stringify(call.arguments) } })),
  };
}

function errorResponse(c: Context, err: unknown): Response {
  const code = err instanceof StatesetError ? err.code : 'ERR_INTERNAL';
  const clientError = code.startsWith('ERR_INVALID');
  const message = (err as Error)?.message ?? String(err);
  return c.json({ error: { message, type: clientError ? 'invalid_request_error' : 'server_error', code } }, clientError ? 400 : 500);
}

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

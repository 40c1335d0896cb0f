/** The OpenAI chat-completions request the server accepts, and its conversion to messages. */
import { z } from 'zod';
import type { TemplateTool } from '../agent/chat-template.js';
import type { GenerationConfig } from '../agent/config.js';
import type { Message } from '../core/messages.js';
import { StatesetError } from '../core/errors.js';
import { parseWith } from '../core/validate.js';

const contentSchema = z.union([z.string(), z.null(), z.array(z.looseObject({ type: z.string(), text: z.string().optional() }))]).optional();

const requestSchema = z.looseObject({
  model: z.string().optional(),
  messages: z
    .array(
      z.looseObject({
        role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
        content: contentSchema,
        tool_calls: z.array(z.looseObject({ id: z.string(), function: z.object({ name: z.string(), arguments: z.string() }) })).optional(),
        tool_call_id: z.string().optional(),
        name: z.string().optional(),
      }),
    )
    .min(1),
  temperature: z.number().min(0).max(2).optional(),
  top_p: z.number().gt(0).max(1).optional(),
  max_tokens: z.int().positive().optional(),
  max_completion_tokens: z.int().positive().optional(),
  seed: z.int().min(0).optional(),
  stream: z.boolean().optional(),
  n: z.literal(1).optional(),
  tools: z.array(z.object({ type: z.literal('function'), function: z.looseObject({ name: z.string(), description: z.string().optional(), parameters: z.record(z.string(), z.unknown()).optional() }) })).optional(),
});

export interface ChatRequest {
  messages: Message[];
  generation: Partial<GenerationConfig>;
  tools?: TemplateTool[];
  stream: boolean;
}

export function parseChatRequest(body: unknown): ChatRequest {
  const request = parseWith(requestSchema, body, 'ERR_INVALID_ARGUMENT', 'request');
  const maxNewTokens = request.max_completion_tokens ?? request.max_tokens;
  const generation: Partial<GenerationConfig> = {
    ...(maxNewTokens === undefined ? {} : { maxNewTokens }),
    ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
    ...(request.top_p === undefined ? {} : { topP: request.top_p }),
    ...(request.seed === undefined ? {} : { seed: request.seed }),
  };
  const tools = request.tools?.map((t): TemplateTool => ({
    type: 'function',
    function: { name: t.function.name, description: t.function.description ?? '', parameters: t.function.parameters ?? { type: 'object', properties: {} } },
  }));
  return { messages: request.messages.map(toMessage), generation, stream: request.stream ?? false, ...(tools?.length ? { tools } : {}) };
}

function toMessage(m: z.output<typeof requestSchema>['messages'][number]): Message {
  const content = typeof m.content === 'string' ? m.content : (m.content ?? []).map((part) => part.text ?? '').join('');
  const role = m.role === 'developer' ? 'system' : m.role;
  const message: Message = { role, content };
  if (m.tool_calls?.length) {
    message.toolCalls = m.tool_calls.map((call) => ({ id: call.id, name: call.function.name, arguments: parseArguments(call.function.name, call.function.arguments) }));
  }
  if (m.tool_call_id !== undefined) message.toolCallId = m.tool_call_id;
  if (m.name !== undefined) message.name = m.name;
  return message;
}

function parseArguments(name: string, text: string): Record<string, unknown> {
  try {
    const value = JSON.parse(text);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value;
  } catch {
    // reported below
  }
  throw new StatesetError('ERR_INVALID_ARGUMENT', `request: the arguments of tool call ${name} must be a JSON object string.`);
}

/**
 * The OpenAI chat-completions request the server accepts, and its conversion to messages.
 * Every field is checked, at any depth: a wrong type, an unknown field (OpenAI refuses
 * those too) or a field of OpenAI's API that this server cannot honour is an
 * ERR_INVALID_ARGUMENT naming the field, never ignored.
 */
import { z } from 'zod';
import type { TemplateTool } from '../agent/chat-template.js';
import type { GenerationConfig } from '../agent/config.js';
import type { Message } from '../core/messages.js';
import { StatesetError } from '../core/errors.js';
import { parseWith } from '../core/validate.js';

const textPartSchema = z.strictObject({ type: z.literal('text'), text: z.string() });

const toolCallSchema = z.strictObject({
  id: z.string(),
  type: z.literal('function').optional(),
  function: z.strictObject({ name: z.string().min(1), arguments: z.string() }),
});

const messageSchema = z.strictObject({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
  content: z.union([z.string(), z.array(textPartSchema)]).nullish(),
  name: z.string().optional(),
  tool_calls: z.array(toolCallSchema).optional(),
  tool_call_id: z.string().optional(),
});

const toolSchema = z.strictObject({
  type: z.literal('function'),
  function: z.strictObject({
    name: z.string().min(1),
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
    strict: z.boolean().nullish(),
  }),
});

/**
 * Fields of OpenAI's API this server cannot honour, each with the values that ask for
 * nothing it lacks (null always does) and what to do instead.
 */
const UNSUPPORTED: Record<string, { accepts: (value: unknown) => boolean; why: string }> = {
  n: { accepts: (v) => v === 1, why: 'this server returns one choice per request; send n requests (with different seeds) instead' },
  stop: { accepts: (v) => Array.isArray(v) && v.length === 0, why: "stop sequences are not supported; a reply ends at the model's end-of-turn token or max_tokens" },
  frequency_penalty: { accepts: (v) => v === 0, why: 'frequency and presence penalties are not supported' },
  presence_penalty: { accepts: (v) => v === 0, why: 'frequency and presence penalties are not supported' },
  logit_bias: { accepts: (v) => isObject(v) && Object.keys(v).length === 0, why: 'logit_bias is not supported' },
  logprobs: { accepts: (v) => v === false, why: 'this server does not return log-probabilities' },
  top_logprobs: { accepts: () => false, why: 'this server does not return log-probabilities' },
  response_format: { accepts: (v) => isObject(v) && v.type === 'text' && Object.keys(v).length === 1, why: 'structured outputs (json_object, json_schema) are not supported; ask for JSON in the prompt' },
  stream_options: { accepts: (v) => isObject(v) && Object.keys(v).every((k) => k === 'include_usage') && v.include_usage !== true, why: 'usage is not reported in streams; a request without stream reports it' },
  tool_choice: { accepts: (v) => v === 'auto' || v === 'none', why: 'only "auto" and "none" are supported: the model decides whether to call a tool' },
  parallel_tool_calls: { accepts: (v) => v === true, why: 'a reply may hold several tool calls; false cannot be enforced' },
  modalities: { accepts: (v) => Array.isArray(v) && v.length === 1 && v[0] === 'text', why: 'this server writes text only' },
  audio: { accepts: () => false, why: 'this server writes text only' },
  functions: { accepts: () => false, why: 'the deprecated functions API is not supported; use tools' },
  function_call: { accepts: () => false, why: 'the deprecated functions API is not supported; use tools and tool_choice' },
  prediction: { accepts: () => false, why: 'predicted outputs are not supported' },
  reasoning_effort: { accepts: () => false, why: 'this model has no reasoning settings' },
  verbosity: { accepts: () => false, why: 'this model has no verbosity setting' },
  web_search_options: { accepts: () => false, why: 'web search is not supported' },
};

const unsupportedFields = Object.fromEntries(Object.keys(UNSUPPORTED).map((key) => [key, z.unknown().optional()]));

const requestSchema = z.strictObject({
  model: z.string().nullish(),
  messages: z.array(messageSchema).min(1),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  max_tokens: z.int().positive().nullish(),
  max_completion_tokens: z.int().positive().nullish(),
  seed: z.int().min(0).nullish(),
  stream: z.boolean().nullish(),
  tools: z.array(toolSchema).nullish(),
  // Bookkeeping fields that do not change the reply.
  user: z.string().nullish(),
  metadata: z.record(z.string(), z.string()).nullish(),
  store: z.boolean().nullish(),
  service_tier: z.string().nullish(),
  safety_identifier: z.string().nullish(),
  prompt_cache_key: z.string().nullish(),
  ...unsupportedFields,
});

type RequestMessage = z.output<typeof messageSchema>;

export interface ChatRequest {
  messages: Message[];
  generation: Partial<GenerationConfig>;
  tools?: TemplateTool[];
  stream: boolean;
}

/**
 * Deepest nesting of objects and lists a request may have. Tool schemas and arguments are
 * rendered by recursive code (JSON.stringify, the chat template): deeper input would
 * overflow its stack. Real JSON schemas stay far below this.
 */
export const MAX_REQUEST_DEPTH = 64;

export interface ServedModel {
  /** The only `model` a request may name. */
  name: string;
  /** The model's context, when known: a conversation of more messages cannot fit (each takes a token at least). */
  positions?: number;
}

/** The request as the agent takes it. */
export function parseChatRequest(body: unknown, served: ServedModel): ChatRequest {
  checkDepth(body, 'request');
  // Before anything walks the messages: rendering the chat template costs about 40 us per
  // message on the event loop (a 1 MiB body holds some 35 000), a few ms per thousand here.
  const count = isObject(body) && Array.isArray(body.messages) ? body.messages.length : 0;
  if (served.positions !== undefined && count > served.positions) {
    throw new StatesetError('ERR_INVALID_ARGUMENT', `invalid request: request.messages: ${count} messages cannot fit the model's ${served.positions} positions (each takes one at least); send fewer`);
  }
  const request = parseWith(requestSchema, body, 'ERR_INVALID_ARGUMENT', 'request');
  const fields: Record<string, unknown> = request;
  const problems = Object.entries(UNSUPPORTED)
    .filter(([key, { accepts }]) => fields[key] != null && !accepts(fields[key]))
    .map(([key, { why }]) => `request.${key}: ${why}`);
  request.tools?.forEach((tool, i) => {
    if (tool.function.strict) problems.push(`request.tools.${i}.function.strict: strict function calling is not supported; leave it out`);
  });
  if (request.model != null && request.model !== served.name) {
    problems.push(`request.model: this server serves "${served.name}" (GET /v1/models), not ${JSON.stringify(request.model)}`);
  }
  const { max_tokens: maxTokens, max_completion_tokens: maxCompletionTokens } = request;
  if (maxTokens != null && maxCompletionTokens != null && maxTokens !== maxCompletionTokens) {
    problems.push(`request.max_completion_tokens: ${maxCompletionTokens} disagrees with max_tokens ${maxTokens}; give one of them`);
  }
  request.messages.forEach((m, i) => problems.push(...messageProblems(m, `request.messages.${i}`)));
  if (problems.length) throw new StatesetError('ERR_INVALID_ARGUMENT', `invalid request: ${problems.join('; ')}`);

  const maxNewTokens = maxCompletionTokens ?? maxTokens;
  const generation: Partial<GenerationConfig> = {
    ...(maxNewTokens == null ? {} : { maxNewTokens }),
    ...(request.temperature == null ? {} : { temperature: request.temperature }),
    ...(request.top_p == null ? {} : { topP: request.top_p }),
    ...(request.seed == null ? {} : { seed: request.seed }),
  };
  const offered = fields.tool_choice === 'none' ? undefined : request.tools;
  const tools = offered?.map((t): TemplateTool => ({
    type: 'function',
    function: { name: t.function.name, description: t.function.description ?? '', parameters: t.function.parameters ?? { type: 'object', properties: {} } },
  }));
  return { messages: request.messages.map(toMessage), generation, stream: request.stream ?? false, ...(tools?.length ? { tools } : {}) };
}

/** OpenAI's rules of which role carries what. */
function messageProblems(m: RequestMessage, where: string): string[] {
  const problems: string[] = [];
  if (m.content == null && !(m.role === 'assistant' && m.tool_calls?.length)) {
    problems.push(`${where}.content: a ${m.role} message needs content (only an assistant message with tool_calls may leave it out)`);
  }
  if (m.tool_calls !== undefined && m.role !== 'assistant') problems.push(`${where}.tool_calls: only assistant messages carry tool calls`);
  if (m.role === 'tool' && m.tool_call_id === undefined) problems.push(`${where}.tool_call_id: a tool message names the call it answers`);
  if (m.role !== 'tool' && m.tool_call_id !== undefined) problems.push(`${where}.tool_call_id: only tool messages answer a tool call`);
  m.tool_calls?.forEach((call, j) => {
    const what = `${where}.tool_calls.${j}.function.arguments`;
    const args = parseJson(call.function.arguments);
    if (!isObject(args)) problems.push(`${what}: must be a JSON object string, got ${JSON.stringify(call.function.arguments.slice(0, 40))}`);
    else checkDepth(args, what);
  });
  return problems;
}

function toMessage(m: RequestMessage): Message {
  const content = typeof m.content === 'string' ? m.content : (m.content ?? []).map((part) => part.text).join('');
  const role = m.role === 'developer' ? 'system' : m.role;
  const message: Message = { role, content };
  if (m.tool_calls?.length) {
    message.toolCalls = m.tool_calls.map((call) => ({ id: call.id, name: call.function.name, arguments: parseJson(call.function.arguments) as Record<string, unknown> }));
  }
  if (m.tool_call_id !== undefined) message.toolCallId = m.tool_call_id;
  if (m.name !== undefined) message.name = m.name;
  return message;
}

/** Walks `value` without recursion, so that any depth can be measured. */
function checkDepth(value: unknown, what: string): void {
  const pending: [unknown, number][] = [[value, 0]];
  while (pending.length) {
    const [node, depth] = pending.pop()!;
    if (typeof node !== 'object' || node === null) continue;
    if (depth >= MAX_REQUEST_DEPTH) {
      throw new StatesetError('ERR_INVALID_ARGUMENT', `invalid request: ${what} nests objects and lists more than ${MAX_REQUEST_DEPTH} levels deep`);
    }
    for (const child of Object.values(node)) pending.push([child, depth + 1]);
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

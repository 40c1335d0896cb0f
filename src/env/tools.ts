/**
 * Tools the model can call: a name, a description, zod parameters and an `execute`
 * function. Every way a call can go wrong (unknown tool, arguments that break the schema,
 * execute throwing or hanging) becomes an error message to the model, never a crash.
 */
import { z } from 'zod';
import { StatesetError } from '../core/errors.js';
import type { Message, ToolCall } from '../core/messages.js';
import { withTimeout } from '../core/timeout.js';
import type { TemplateTool } from '../agent/chat-template.js';

export interface Tool<P extends z.ZodType = z.ZodType> {
  name: string;
  description: string;
  parameters: P;
  /** The result goes back to the model: strings as they are, anything else as JSON. */
  execute(args: z.output<P>): unknown;
  /** Default 10 000 ms. */
  timeoutMs?: number;
}

export const DEFAULT_TOOL_TIMEOUT_MS = 10_000;

const TOOL_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;

/** Defines a tool; the name must be a short identifier the model can write. */
export function tool<P extends z.ZodType>(definition: Tool<P>): Tool<P> {
  if (!TOOL_NAME.test(definition?.name ?? '')) {
    throw new StatesetError('ERR_INVALID_TOOL', `tool name ${JSON.stringify(definition?.name)} is not valid: use letters, digits, _ . - (at most 64, starting with a letter or _).`);
  }
  if (!(definition.parameters instanceof z.ZodType)) {
    throw new StatesetError('ERR_INVALID_TOOL', `tool ${definition.name}: parameters must be a zod schema, e.g. z.object({ id: z.string() }).`);
  }
  if (typeof definition.execute !== 'function') {
    throw new StatesetError('ERR_INVALID_TOOL', `tool ${definition.name}: execute must be a function.`);
  }
  return definition;
}

/** The tool as chat templates and OpenAI endpoints describe it. */
export function describeTool(t: Tool): TemplateTool {
  const parameters = z.toJSONSchema(t.parameters) as Record<string, unknown>;
  delete parameters.$schema; // the draft marker means nothing to a model
  return { type: 'function', function: { name: t.name, description: t.description, parameters } };
}

export interface ToolOutcome {
  call: ToolCall;
  ok: boolean;
  /** Why the call failed, when it did. */
  error?: string;
  /** The tool message given back to the model. */
  message: Message;
}

/** Runs one parsed call against the known tools; failures become an "Error: ..." tool message. */
export async function runToolCall(tools: ReadonlyMap<string, Tool>, call: ToolCall): Promise<ToolOutcome> {
  const answer = (ok: boolean, content: string, error?: string): ToolOutcome => ({
    call,
    ok,
    ...(error === undefined ? {} : { error }),
    message: { role: 'tool', content, toolCallId: call.id, name: call.name },
  });
  const found = tools.get(call.name);
  if (!found) {
    const error = `unknown tool "${call.name}"; the tools are: ${[...tools.keys()].join(', ') || '(none)'}`;
    return answer(false, `Error: ${error}.`, error);
  }
  const args = found.parameters.safeParse(call.arguments);
  if (!args.success) {
    const error = `invalid arguments for ${call.name}: ${args.error.issues.map((i) => `${i.path.join('.') || 'arguments'}: ${i.message}`).join('; ')}`;
    return answer(false, `Error: ${error}.`, error);
  }
  try {
    const result = await withTimeout(() => found.execute(args.data), found.timeoutMs ?? DEFAULT_TOOL_TIMEOUT_MS);
    return answer(true, typeof result === 'string' ? result : JSON.stringify(result ?? null));
  } catch (err) {
    const error = `${call.name} failed: ${(err as Error)?.message ?? String(err)}`;
    return answer(false, `Error: ${error}.`, error);
  }
}

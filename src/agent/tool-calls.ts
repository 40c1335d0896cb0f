/**
 * Tool calls written by the model in its text. The default format is Hermes-style:
 *   <tool_call>{"name": "lookup_order", "arguments": {"id": "A1"}}</tool_call>
 * A call that cannot be read is returned as a ToolCallError, so the environment can tell
 * the model what was wrong instead of failing the episode.
 */
import type { ToolCall } from '../core/messages.js';

export interface ToolCallError {
  /** The text between the tags, as written. */
  raw: string;
  reason: string;
}

export interface ParsedToolCalls {
  calls: ToolCall[];
  errors: ToolCallError[];
}

export interface ToolCallFormat {
  /** `idPrefix` makes call ids unique within an episode. */
  parse(text: string, idPrefix?: string): ParsedToolCalls;
}

// The closing tag may be missing when the model stopped right after the JSON.
const HERMES_CALL = /<tool_call>([\s\S]*?)(?:<\/tool_call>|$)/g;

export const hermesToolCalls: ToolCallFormat = {
  parse(text, idPrefix = 'call') {
    const calls: ToolCall[] = [];
    const errors: ToolCallError[] = [];
    for (const match of text.matchAll(HERMES_CALL)) {
      const raw = match[1].trim();
      const read = readCall(raw);
      if ('reason' in read) errors.push({ raw, reason: read.reason });
      else calls.push({ id: `${idPrefix}_${calls.length + errors.length}`, ...read });
    }
    return { calls, errors };
  },
};

function readCall(raw: string): Omit<ToolCall, 'id'> | { reason: string } {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    return { reason: `the tool call is not valid JSON (${(err as Error).message})` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { reason: 'the tool call must be a JSON object with "name" and "arguments"' };
  }
  const { name, arguments: args = {} } = value as { name?: unknown; arguments?: unknown };
  if (typeof name !== 'string' || name === '') return { reason: 'the tool call has no "name" string' };
  if (typeof args !== 'object' || args === null || Array.isArray(args)) {
    return { reason: `the "arguments" of ${name} must be a JSON object` };
  }
  return { name, arguments: args as Record<string, unknown> };
}

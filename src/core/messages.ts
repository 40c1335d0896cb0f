/**
 * OpenAI-style chat messages, the one conversation format of the project: agents read
 * them, environments reply with them, trajectories keep them and the server speaks them.
 */
import { z } from 'zod';

export type Role = 'system' | 'user' | 'assistant' | 'tool';

/** A call the assistant asked for; `arguments` is the parsed JSON object. */
export interface ToolCall {
  id: string;
  name: string;
  arguments: Record<string, unknown>;
}

export interface Message {
  role: Role;
  content: string;
  /** On assistant messages: the tool calls parsed from `content`. */
  toolCalls?: ToolCall[];
  /** On tool messages: the id of the call this message answers. */
  toolCallId?: string;
  /** On tool messages: the name of the tool that answered. */
  name?: string;
}

const toolCallSchema = z.object({
  id: z.string(),
  name: z.string().min(1),
  arguments: z.record(z.string(), z.unknown()),
});

export const messageSchema = z.object({
  role: z.enum(['system', 'user', 'assistant', 'tool']),
  content: z.string(),
  toolCalls: z.array(toolCallSchema).optional(),
  toolCallId: z.string().optional(),
  name: z.string().optional(),
});

export const messagesSchema = z.array(messageSchema);

export const system = (content: string): Message => ({ role: 'system', content });
export const user = (content: string): Message => ({ role: 'user', content });
export const assistant = (content: string): Message => ({ role: 'assistant', content });

/**
 * A chat model behind one function, `complete(messages) -> text`, used by simulated users
 * and LLM judges. Two backends: a local Agent, or any OpenAI-compatible endpoint.
 */
import OpenAI from 'openai';
import { StatesetError } from '../core/errors.js';
import type { Message } from '../core/messages.js';
import type { Agent } from './agent.js';
import type { GenerationConfig } from './config.js';

export interface CompleteOptions {
  maxTokens?: number;
  temperature?: number;
}

export interface ChatBackend {
  complete(messages: Message[], options?: CompleteOptions): Promise<string>;
}

/** A local agent as a chat backend. */
export function agentChat(agent: Agent, generation: Partial<GenerationConfig> = {}): ChatBackend {
  return {
    async complete(messages, options = {}) {
      const overrides = {
        ...generation,
        ...(options.maxTokens === undefined ? {} : { maxNewTokens: options.maxTokens }),
        ...(options.temperature === undefined ? {} : { temperature: options.temperature }),
      };
      return (await agent.respond(messages, { generation: overrides })).content;
    },
  };
}

export interface OpenAIChatOptions {
  /** e.g. http://127.0.0.1:8000/v1 */
  baseURL: string;
  model: string;
  /** Default: the OPENAI_API_KEY environment variable, else a placeholder (local servers ignore it). */
  apiKey?: string;
  /** Per request; default 60 000 ms. */
  timeoutMs?: number;
  /** Retries of failed requests (connection errors, 429, 5xx); default 2. */
  maxRetries?: number;
}

/** An OpenAI-compatible chat-completions endpoint as a chat backend. */
export function openAIChat(options: OpenAIChatOptions): ChatBackend {
  const client = new OpenAI({
    baseURL: options.baseURL,
    apiKey: options.apiKey ?? process.env.OPENAI_API_KEY ?? 'not-needed',
    timeout: options.timeoutMs ?? 60_000,
    maxRetries: options.maxRetries ?? 2,
  });
  return {
    async complete(messages, completeOptions = {}) {
      try {
        const response = await client.chat.completions.create({
          model: options.model,
          messages: messages.map(toOpenAIMessage),
          ...(completeOptions.maxTokens === undefined ? {} : { max_tokens: completeOptions.maxTokens }),
          ...(completeOptions.temperature === undefined ? {} : { temperature: completeOptions.temperature }),
        });
        return response.choices[0]?.message?.content ?? '';
      } catch (cause) {
        throw new StatesetError('ERR_ENDPOINT', `the chat endpoint ${options.baseURL} failed: ${(cause as Error).message}`, { cause });
      }
    },
  };
}

function toOpenAIMessage(message: Message): OpenAI.Chat.ChatCompletionMessageParam {
  if (message.role === 'tool') return { role: 'tool', content: message.content, tool_call_id: message.toolCallId ?? '' };
  if (message.role === 'assistant' && message.toolCalls?.length) {
    return {
      role: 'assistant',
      content: message.content,
      tool_calls: message.toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: JSON.stringify(c.arguments) } })),
    };
  }
  return { role: message.role, content: message.content };
}

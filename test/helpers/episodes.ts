// Hand-built episodes for reward tests: each reply is one turn of `tokens` sampled ids.
import type { Episode, Message, ToolCallRecord, Turn } from '../../src/index.js';

export interface ReplySpec {
  text: string;
  tokens?: number;
  toolCalls?: ToolCallRecord[];
  envReward?: number;
}

export function episodeOf(replies: Array<string | ReplySpec>, scenario: unknown = {}): Episode {
  const messages: Message[] = [{ role: 'user', content: 'Hello' }];
  const turns: Turn[] = [];
  let position = 10;
  replies.forEach((spec, index) => {
    const { text, tokens = 5, toolCalls = [], envReward } = typeof spec === 'string' ? { text: spec } : spec;
    const assistant: Message = { role: 'assistant', content: text };
    const replies: Message[] = [{ role: 'user', content: 'ok' }];
    messages.push(assistant, ...replies);
    turns.push({ index, assistant, replies, toolCalls, finishReason: 'stop', start: position, end: position + tokens, ...(envReward === undefined ? {} : { envReward }) });
    position += tokens + 4;
  });
  return { scenario, messages, turns, doneReason: 'max_turns' };
}

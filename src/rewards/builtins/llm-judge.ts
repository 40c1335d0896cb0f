/**
 * llmJudge: a language model grades the conversation against a rubric and answers
 * "Score: N". Any chat backend works (an OpenAI-compatible endpoint, a local agent).
 * A reply without a readable score in range is retried; after the last retry the call
 * fails, and the composite treats the score as missing.
 */
import type { ChatBackend } from '../../agent/chat-backend.js';
import type { Episode, Turn } from '../../core/episode.js';
import { StatesetError } from '../../core/errors.js';
import type { Message } from '../../core/messages.js';
import { withTimeout } from '../../core/timeout.js';
import { rewardFunction, type RewardContext, type RewardDetail, type RewardFunction } from '../types.js';
import type { BuiltinOptions } from './per-turn.js';

export interface LlmJudgeOptions extends BuiltinOptions {
  chat: ChatBackend;
  /** What a good answer is; the judge sees it above the conversation. */
  rubric: string;
  /** The range the judge scores in; the reward is rescaled to [0, 1]. Default 0..10. */
  scale?: { min: number; max: number };
  /** Attempts after the first. Default 2. */
  retries?: number;
  /** Per attempt. Default 30 000 ms. */
  timeoutMs?: number;
  /** Default 128. */
  maxTokens?: number;
}

const SCORE = /score\s*[:=]\s*(-?\d+(?:\.\d+)?)/i;

export function llmJudge(options: LlmJudgeOptions): RewardFunction {
  const { chat, rubric, scale = { min: 0, max: 10 }, retries = 2, timeoutMs = 30_000, maxTokens = 128 } = options;
  if (typeof chat?.complete !== 'function') throw new StatesetError('ERR_INVALID_REWARD', 'llmJudge: chat must be a chat backend (openAIChat(...) or agentChat(agent)).');
  if (typeof rubric !== 'string' || rubric.trim() === '') throw new StatesetError('ERR_INVALID_REWARD', 'llmJudge: rubric must be a non-empty string.');
  if (!(scale.max > scale.min)) throw new StatesetError('ERR_INVALID_REWARD', `llmJudge: scale.max must exceed scale.min, got ${scale.min}..${scale.max}.`);
  if (!(Number.isInteger(retries) && retries >= 0)) throw new StatesetError('ERR_INVALID_REWARD', `llmJudge: retries must be a non-negative integer, got ${retries}.`);

  const judge = async (conversation: Message[], focus: string): Promise<RewardDetail> => {
    const prompt: Message[] = [
      { role: 'system', content: `You grade an AI assistant. Follow the rubric. End your answer with "Score: N", N a number from ${scale.min} to ${scale.max}.` },
      { role: 'user', content: `Rubric:\n${rubric}\n\nConversation:\n${transcript(conversation)}\n\n${focus}` },
    ];
    const problems: string[] = [];
    for (let attempt = 0; attempt <= retries; attempt++) {
      try {
        const reply = await withTimeout(() => chat.complete(prompt, { maxTokens, temperature: 0 }), timeoutMs);
        const raw = Number(SCORE.exec(reply)?.[1]);
        if (Number.isFinite(raw) && raw >= scale.min && raw <= scale.max) {
          return { score: (raw - scale.min) / (scale.max - scale.min), components: { raw }, explanation: reply.trim() };
        }
        problems.push(`no score in ${scale.min}..${scale.max} in the reply ${JSON.stringify(reply.slice(0, 200))}`);
      } catch (err) {
        problems.push((err as Error)?.message ?? String(err));
      }
    }
    throw new StatesetError('ERR_ENDPOINT', `llmJudge gave no score after ${retries + 1} attempts: ${problems.join('; ')}`);
  };

  const name = options.name ?? 'llm_judge';
  // The composite's deadline must outlast every attempt.
  const overall = (retries + 1) * timeoutMs + 1_000;
  if ((options.scope ?? 'episode') === 'turn') {
    return rewardFunction({
      name,
      scope: 'turn',
      timeoutMs: overall,
      score: (turn: Turn, context: RewardContext) => judge(upTo(context.episode, turn), 'Grade the last assistant message.'),
    });
  }
  return rewardFunction({ name, scope: 'episode', timeoutMs: overall, score: (episode: Episode) => judge(episode.messages, 'Grade the assistant over the whole conversation.') });
}

function transcript(messages: Message[]): string {
  return messages.map((m) => `[${m.role}] ${m.content}`).join('\n');
}

/** The conversation up to and including the turn's assistant message. */
function upTo(episode: Episode, turn: Turn): Message[] {
  const at = episode.messages.indexOf(turn.assistant);
  return at < 0 ? episode.messages : episode.messages.slice(0, at + 1);
}

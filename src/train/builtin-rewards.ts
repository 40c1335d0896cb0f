/**
 * Reward functions a config file names by their built-in name, with their options:
 *
 *   rewards:
 *     - { name: politeness, weight: 1 }
 *     - { name: conciseness, weight: 0.5, options: { maxWords: 40 } }
 *     - { name: llm_judge, options: { baseURL: http://127.0.0.1:8000/v1, model: judge, rubric: ... } }
 */
import { openAIChat } from '../agent/chat-backend.js';
import { StatesetError } from '../core/errors.js';
import { conciseness } from '../rewards/builtins/conciseness.js';
import { keywords, regexReward } from '../rewards/builtins/keywords.js';
import { lengthPenalty, softOverlongPunishment } from '../rewards/builtins/length.js';
import { llmJudge } from '../rewards/builtins/llm-judge.js';
import { politeness } from '../rewards/builtins/politeness.js';
import { toolSuccess } from '../rewards/builtins/tool-success.js';
import type { RewardFunction } from '../rewards/types.js';

type Options = Record<string, any>;

export const BUILTIN_REWARDS: Record<string, (options: Options) => RewardFunction> = {
  politeness: (o) => politeness(o),
  conciseness: (o) => conciseness({ maxWords: 50, ...o }),
  length_penalty: (o) => lengthPenalty(o as Parameters<typeof lengthPenalty>[0]),
  soft_overlong: (o) => softOverlongPunishment(o as Parameters<typeof softOverlongPunishment>[0]),
  keywords: (o) => keywords(o),
  regex: (o) => regexReward(o as Parameters<typeof regexReward>[0]),
  tool_success: (o) => toolSuccess(o),
  /** The judge is any OpenAI-compatible endpoint: { baseURL, model, apiKey?, rubric, ... }. */
  llm_judge: ({ baseURL, model, apiKey, requestTimeoutMs, maxRetries, ...rest }) =>
    llmJudge({ ...rest, rubric: rest.rubric, chat: openAIChat({ baseURL, model, apiKey, timeoutMs: requestTimeoutMs, maxRetries }) }),
};

/** The built-in `name` (validated by the config schema) made with `options`; `where` prefixes its errors. */
export function builtinReward(name: string, options: Options, where: string): RewardFunction {
  try {
    return BUILTIN_REWARDS[name](options);
  } catch (err) {
    if (err instanceof StatesetError) throw new StatesetError(err.code, `${where}: ${err.message}`, { cause: err });
    throw err;
  }
}

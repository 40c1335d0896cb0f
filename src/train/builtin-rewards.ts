/**
 * Reward functions a config file names by their built-in name, with their options:
 *
 *   rewards:
 *     - { name: politeness, weight: 1 }
 *     - { name: conciseness, weight: 0.5, options: { maxWords: 40 } }
 *     - { name: llm_judge, options: { baseURL: http://127.0.0.1:8000/v1, model: judge, rubric: ... } }
 *
 * Each built-in's options are a strict schema: a misspelt option is a config error that
 * names its path, not a default silently used. The built-ins check the values themselves.
 */
import { z } from 'zod';
import { openAIChat } from '../agent/chat-backend.js';
import { StatesetError } from '../core/errors.js';
import { conciseness } from '../rewards/builtins/conciseness.js';
import { keywords, regexReward } from '../rewards/builtins/keywords.js';
import { lengthPenalty, softOverlongPunishment } from '../rewards/builtins/length.js';
import { llmJudge } from '../rewards/builtins/llm-judge.js';
import { politeness } from '../rewards/builtins/politeness.js';
import { toolSuccess } from '../rewards/builtins/tool-success.js';
import type { RewardFunction } from '../rewards/types.js';

interface Builtin<S extends z.ZodType> {
  options: S;
  make(options: z.output<S>): RewardFunction;
}

const builtin = <S extends z.ZodType>(options: S, make: (options: z.output<S>) => RewardFunction): Builtin<S> => ({ options, make });

/** The options every text built-in shares (BuiltinOptions): its logged name and its scope. */
const common = { name: z.string().min(1).optional(), scope: z.enum(['episode', 'turn']).optional() };
const phrases = z.array(z.string()).optional();

export const BUILTIN_REWARDS: Record<string, Builtin<z.ZodType>> = {
  politeness: builtin(z.strictObject({ ...common, phrases, enough: z.number().optional() }), (o) => politeness(o)),
  conciseness: builtin(z.strictObject({ ...common, maxWords: z.number().default(50), softness: z.number().optional() }), (o) => conciseness(o)),
  length_penalty: builtin(z.strictObject({ ...common, targetTokens: z.number(), coefficient: z.number().optional() }), (o) => lengthPenalty(o)),
  soft_overlong: builtin(z.strictObject({ ...common, maxLength: z.number(), cacheLength: z.number() }), (o) => softOverlongPunishment(o)),
  keywords: builtin(z.strictObject({ ...common, include: phrases, exclude: phrases }), (o) => keywords(o)),
  regex: builtin(z.strictObject({ ...common, pattern: z.string(), match: z.number().optional(), noMatch: z.number().optional() }), (o) => regexReward(o)),
  tool_success: builtin(z.strictObject({ ...common, noCalls: z.number().optional() }), (o) => toolSuccess(o)),
  /** The judge is any OpenAI-compatible endpoint: { baseURL, model, apiKey?, rubric, ... }. */
  llm_judge: builtin(
    z.strictObject({
      ...common,
      baseURL: z.string().min(1),
      model: z.string().min(1),
      apiKey: z.string().optional(),
      /** Per HTTP request; `timeoutMs` bounds a whole attempt. */
      requestTimeoutMs: z.number().optional(),
      maxRetries: z.number().optional(),
      rubric: z.string(),
      scale: z.strictObject({ min: z.number(), max: z.number() }).optional(),
      retries: z.number().optional(),
      timeoutMs: z.number().optional(),
      maxTokens: z.number().optional(),
    }),
    ({ baseURL, model, apiKey, requestTimeoutMs, maxRetries, ...rest }) =>
      llmJudge({ ...rest, chat: openAIChat({ baseURL, model, apiKey, timeoutMs: requestTimeoutMs, maxRetries }) }),
  ),
};

/**
 * The config entry of each built-in, `{ name, weight?, options }`; `options` may be left out
 * when the built-in needs none of them.
 */
export function builtinRewardEntries<W extends z.ZodType>(weight: W) {
  return Object.entries(BUILTIN_REWARDS).map(([name, { options }]) =>
    z.strictObject({ name: z.literal(name), weight, options: options.safeParse({}).success ? options.optional() : options }),
  );
}

/** The built-in `name` made with its validated `options`; `where` prefixes its errors. */
export function builtinReward(name: string, options: unknown, where: string): RewardFunction {
  const { options: schema, make } = BUILTIN_REWARDS[name];
  try {
    return make(schema.parse(options ?? {}));
  } catch (err) {
    if (err instanceof StatesetError) throw new StatesetError(err.code, `${where}: ${err.message}`, { cause: err });
    throw err;
  }
}

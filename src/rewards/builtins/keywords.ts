/** Pattern rewards: a regular expression, or lists of words to include and avoid. */
import { StatesetError } from '../../core/errors.js';
import type { RewardFunction } from '../types.js';
import { perTurnReward, phraseMatcher, type BuiltinOptions } from './per-turn.js';

export interface RegexOptions extends BuiltinOptions {
  pattern: RegExp | string;
  /** Score when the pattern matches. Default 1. */
  match?: number;
  /** Score when it does not. Default 0. */
  noMatch?: number;
}

export function regexReward(options: RegexOptions): RewardFunction {
  let pattern: RegExp;
  try {
    pattern = typeof options.pattern === 'string' ? new RegExp(options.pattern, 'u') : new RegExp(options.pattern.source, options.pattern.flags.replace('g', ''));
  } catch (cause) {
    throw new StatesetError('ERR_INVALID_REWARD', `regexReward: the pattern is not a valid regular expression: ${(cause as Error).message}`, { cause });
  }
  const { match = 1, noMatch = 0 } = options;
  return perTurnReward('regex', options, (turn) => (pattern.test(turn.assistant.content) ? match : noMatch));
}

export interface KeywordsOptions extends BuiltinOptions {
  /** Words or phrases a good reply contains. */
  include?: string[];
  /** Words or phrases a good reply avoids. */
  exclude?: string[];
}

/**
 * (fraction of `include` present) - (fraction of `exclude` present), matched like politeness
 * (case-insensitive, word boundaries). With no `include` list the first term is 1.
 */
export function keywords(options: KeywordsOptions): RewardFunction {
  const include = (options.include ?? []).map(phraseMatcher);
  const exclude = (options.exclude ?? []).map(phraseMatcher);
  if (include.length + exclude.length === 0) throw new StatesetError('ERR_INVALID_REWARD', 'keywords: give an include or an exclude list.');
  const fraction = (list: RegExp[], text: string) => list.filter((m) => m.test(text)).length / list.length;
  return perTurnReward('keywords', options, (turn) => {
    const text = turn.assistant.content;
    return (include.length ? fraction(include, text) : 1) - (exclude.length ? fraction(exclude, text) : 0);
  });
}

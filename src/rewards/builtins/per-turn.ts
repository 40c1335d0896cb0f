/**
 * Shared shape of the text built-ins: a score of one assistant turn, usable at both
 * scopes (an episode scores the mean over its replies to the user).
 */
import type { Episode, Turn } from '../../core/episode.js';
import { rewardFunction, type RewardFunction, type RewardScope } from '../types.js';

export interface BuiltinOptions {
  /** Default: the built-in's own name. */
  name?: string;
  /** Default 'episode'. */
  scope?: RewardScope;
}

export function perTurnReward(defaultName: string, options: BuiltinOptions, scoreTurn: (turn: Turn) => number): RewardFunction {
  const name = options.name ?? defaultName;
  if ((options.scope ?? 'episode') === 'turn') return rewardFunction({ name, scope: 'turn', score: scoreTurn });
  return rewardFunction({
    name,
    scope: 'episode',
    score: (episode: Episode) => {
      const turns = repliesToUser(episode);
      return turns.length ? turns.reduce((sum, t) => sum + scoreTurn(t), 0) / turns.length : 0;
    },
  });
}

/** The turns that answered the user, or every turn if all of them called tools. */
export function repliesToUser(episode: Episode): Turn[] {
  const replies = episode.turns.filter((t) => !t.assistant.toolCalls?.length);
  return replies.length ? replies : episode.turns;
}

/** Sampled tokens of a turn. */
export const turnLength = (turn: Turn): number => turn.end - turn.start;

/**
 * Matches a phrase case-insensitively at word boundaries (a letter or digit may not touch
 * either end); spaces inside the phrase match any whitespace.
 */
export function phraseMatcher(phrase: string): RegExp {
  const body = phrase.trim().split(/\s+/).map(escapeRegExp).join('\\s+');
  return new RegExp(`(?<![\\p{L}\\p{N}])${body}(?![\\p{L}\\p{N}])`, 'iu');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export const wordCount = (text: string): number => text.split(/\s+/).filter(Boolean).length;

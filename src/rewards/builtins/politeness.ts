/** politeness: how many polite phrases a reply uses, up to `enough` of them. */
import { StatesetError } from '../../core/errors.js';
import type { RewardFunction } from '../types.js';
import { perTurnReward, phraseMatcher, type BuiltinOptions } from './per-turn.js';

export const POLITE_PHRASES = [
  'please',
  'thank you',
  'thanks',
  'sorry',
  'apologize',
  'apologies',
  'happy to help',
  'glad to help',
  'appreciate',
  "you're welcome",
  'my pleasure',
];

export interface PolitenessOptions extends BuiltinOptions {
  /** Matched case-insensitively at word boundaries. Default POLITE_PHRASES. */
  phrases?: string[];
  /** Distinct phrases that give the full score 1. Default 1. */
  enough?: number;
}

/** min(1, distinct phrases found / enough), per reply. */
export function politeness(options: PolitenessOptions = {}): RewardFunction {
  const phrases = options.phrases ?? POLITE_PHRASES;
  const enough = options.enough ?? 1;
  if (!Array.isArray(phrases) || phrases.length === 0 || phrases.some((p) => typeof p !== 'string' || p.trim() === '')) {
    throw new StatesetError('ERR_INVALID_REWARD', 'politeness: phrases must be a non-empty list of non-empty strings.');
  }
  if (!(Number.isInteger(enough) && enough >= 1)) throw new StatesetError('ERR_INVALID_REWARD', `politeness: enough must be a positive integer, got ${enough}.`);
  const matchers = phrases.map(phraseMatcher);
  return perTurnReward('politeness', options, (turn) => {
    const found = matchers.filter((m) => m.test(turn.assistant.content)).length;
    return Math.min(1, found / enough);
  });
}

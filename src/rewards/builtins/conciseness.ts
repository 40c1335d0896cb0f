/** conciseness: 1 up to a word limit, then a smooth exponential decay. */
import { StatesetError } from '../../core/errors.js';
import type { RewardFunction } from '../types.js';
import { perTurnReward, wordCount, type BuiltinOptions } from './per-turn.js';

export interface ConcisenessOptions extends BuiltinOptions {
  maxWords: number;
  /** Words over the limit that lower the score to 1/e. Default maxWords / 2. */
  softness?: number;
}

/** 1 if words <= maxWords, else exp(-(words - maxWords) / softness), per reply. */
export function conciseness(options: ConcisenessOptions): RewardFunction {
  const { maxWords } = options;
  const softness = options.softness ?? maxWords / 2;
  if (!(maxWords > 0)) throw new StatesetError('ERR_INVALID_REWARD', `conciseness: maxWords must be positive, got ${maxWords}.`);
  if (!(softness > 0)) throw new StatesetError('ERR_INVALID_REWARD', `conciseness: softness must be positive, got ${softness}.`);
  return perTurnReward('conciseness', options, (turn) => {
    const over = wordCount(turn.assistant.content) - maxWords;
    return over <= 0 ? 1 : Math.exp(-over / softness);
  });
}

/** Length shaping in sampled tokens: a linear penalty and DAPO's soft overlong punishment. */
import { StatesetError } from '../../core/errors.js';
import type { RewardFunction } from '../types.js';
import { perTurnReward, turnLength, type BuiltinOptions } from './per-turn.js';

export interface LengthPenaltyOptions extends BuiltinOptions {
  /** Tokens allowed without penalty. */
  targetTokens: number;
  /** Penalty per target-length of excess. Default 1. */
  coefficient?: number;
}

/** -coefficient * max(0, tokens - targetTokens) / targetTokens, per reply. */
export function lengthPenalty(options: LengthPenaltyOptions): RewardFunction {
  const { targetTokens, coefficient = 1 } = options;
  if (!(targetTokens > 0)) throw new StatesetError('ERR_INVALID_REWARD', `lengthPenalty: targetTokens must be positive, got ${targetTokens}.`);
  if (!Number.isFinite(coefficient)) throw new StatesetError('ERR_INVALID_REWARD', 'lengthPenalty: coefficient must be a finite number.');
  return perTurnReward('length_penalty', options, (turn) => {
    const excess = turnLength(turn) - targetTokens;
    return excess > 0 ? (-coefficient * excess) / targetTokens : 0;
  });
}

export interface OverlongOptions extends BuiltinOptions {
  /** L_max: the generation limit in tokens. */
  maxLength: number;
  /** L_cache: the soft zone before L_max where the penalty grows from 0 to -1. */
  cacheLength: number;
}

/**
 * ALGORITHMS.md section 4: 0 if len <= L_max - L_cache; ((L_max - L_cache) - len) / L_cache
 * inside the soft zone; -1 beyond L_max.
 */
export function softOverlongPunishment(options: OverlongOptions): RewardFunction {
  const { maxLength, cacheLength } = options;
  if (!(Number.isInteger(maxLength) && maxLength > 0)) throw new StatesetError('ERR_INVALID_REWARD', `softOverlongPunishment: maxLength must be a positive integer, got ${maxLength}.`);
  if (!(Number.isInteger(cacheLength) && cacheLength > 0 && cacheLength <= maxLength)) {
    throw new StatesetError('ERR_INVALID_REWARD', `softOverlongPunishment: cacheLength must be an integer in [1, maxLength], got ${cacheLength}.`);
  }
  return perTurnReward('soft_overlong', options, (turn) => overlongPenalty(turnLength(turn), maxLength, cacheLength));
}

export function overlongPenalty(length: number, maxLength: number, cacheLength: number): number {
  const soft = maxLength - cacheLength;
  if (length <= soft) return 0;
  if (length <= maxLength) return (soft - length) / cacheLength;
  return -1;
}

/**
 * RewardFunction: a named, sync or async function scoring an episode or one turn.
 * It returns a number, or { score, components, explanation } when it has more to say.
 */
import { StatesetError } from '../core/errors.js';
import type { Episode, Turn } from '../core/episode.js';

export type RewardScope = 'episode' | 'turn';

export interface RewardDetail {
  score: number;
  /** Named parts of the score, for logging. */
  components?: Record<string, number>;
  explanation?: string;
}

export type RewardValue = number | RewardDetail;

export interface RewardContext<Scenario = unknown> {
  scenario: Scenario;
  /** The whole episode (for a turn-scope function: the episode the turn belongs to). */
  episode: Episode<Scenario>;
}

interface RewardFunctionBase {
  /** Unique within a composite; failures are counted and logged under it. */
  name: string;
  /** Overrides the composite's timeout for this function. */
  timeoutMs?: number;
}

export interface EpisodeRewardFunction<Scenario = unknown> extends RewardFunctionBase {
  scope: 'episode';
  score(episode: Episode<Scenario>, context: RewardContext<Scenario>): RewardValue | Promise<RewardValue>;
}

export interface TurnRewardFunction<Scenario = unknown> extends RewardFunctionBase {
  scope: 'turn';
  score(turn: Turn, context: RewardContext<Scenario>): RewardValue | Promise<RewardValue>;
}

export type RewardFunction<Scenario = unknown> = EpisodeRewardFunction<Scenario> | TurnRewardFunction<Scenario>;

/** Defines a reward function, checking its name, scope and score function. */
export function rewardFunction<F extends RewardFunction<any>>(definition: F): F {
  if (typeof definition?.name !== 'string' || definition.name === '') {
    throw new StatesetError('ERR_INVALID_REWARD', 'a reward function needs a non-empty name.');
  }
  const scope: string = definition.scope;
  if (scope !== 'episode' && scope !== 'turn') {
    throw new StatesetError('ERR_INVALID_REWARD', `reward ${definition.name}: scope must be 'episode' or 'turn', got ${JSON.stringify(scope)}.`);
  }
  if (typeof definition.score !== 'function') {
    throw new StatesetError('ERR_INVALID_REWARD', `reward ${definition.name}: score must be a function (target, context) => number.`);
  }
  if (definition.timeoutMs !== undefined && !(definition.timeoutMs > 0)) {
    throw new StatesetError('ERR_INVALID_REWARD', `reward ${definition.name}: timeoutMs must be a positive number of milliseconds.`);
  }
  return definition;
}

/** The score of a reward function's return value (not yet checked: see isRewardScore). */
export function scoreOf(value: RewardValue): number {
  return typeof value === 'number' ? value : value?.score;
}

/** The largest finite float32, about 3.4e38. */
export const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * Whether `value` is a usable score: a number that stays finite as a float32, the type
 * rewards and advantages are computed in. NaN, infinities and magnitudes past FLOAT32_MAX
 * (which would become Infinity there) are failed scores.
 */
export function isRewardScore(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(Math.fround(value));
}

/** `value` if it is a usable score, else NaN (missing): for sums and weighted combinations of scores that could overflow. */
export function scoreOrMissing(value: unknown): number {
  return isRewardScore(value) ? value : NaN;
}

/** A turn's reward from the environment: 0 when it gives none, NaN (missing) when it is not a usable score. */
export function environmentReward(turn: Turn): number {
  return turn.envReward === undefined ? 0 : scoreOrMissing(turn.envReward);
}

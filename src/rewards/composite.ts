/**
 * A composite of reward functions: runs them (concurrently, each with a timeout) over the
 * episodes of a group and their turns, and combines their scores. A function that throws,
 * times out, or returns anything but a number a float32 holds (NaN, infinities, or a
 * magnitude past ~3.4e38, which would become Infinity in the advantages) is counted and
 * logged, and its score is treated as missing; the run goes on. A combined reward that
 * would overflow float32 (the sum of an episode's rewards, an environment's reward) is
 * missing too.
 */
import type { Episode } from '../core/episode.js';
import { StatesetError } from '../core/errors.js';
import { TimeoutError, withTimeout } from '../core/timeout.js';
import { COMBINE_MODES, combineScores, type CombineMode } from './combine.js';
import { environmentReward, isRewardScore, rewardFunction, scoreOf, scoreOrMissing, type RewardContext, type RewardFunction } from './types.js';

export interface WeightedReward<Scenario = unknown> {
  reward: RewardFunction<Scenario>;
  weight: number;
}

export interface CompositeRewardOptions {
  /** Default 'weighted_sum'. */
  mode?: CombineMode;
  /** Per call, unless the function sets its own. Default 30 000 ms. */
  timeoutMs?: number;
  /** Where failures are reported (the first of each kind per function). Default console.warn. */
  log?: (line: string) => void;
}

export type FailureKind = 'error' | 'nan' | 'timeout';

export interface RewardCallStats {
  calls: number;
  failures: Record<FailureKind, number>;
  /** The message of the latest failure. */
  lastFailure?: string;
}

export interface GroupRewards {
  /** Per episode: the combined episode-scope score (0 without episode-scope functions). */
  episodeRewards: Float32Array;
  /** Per episode, per turn: combined turn-scope score (0 without any) plus the environment's reward. */
  turnRewards: Float32Array[];
  /** Per episode: episode reward + sum of turn rewards. NaN = missing. */
  rewards: Float32Array;
  /** Per episode, per function: its score (a turn-scope function: the mean over turns). */
  scores: Record<string, number>[];
}

export const DEFAULT_REWARD_TIMEOUT_MS = 30_000;

export class CompositeReward<Scenario = unknown> {
  readonly mode: CombineMode;
  private readonly entries: WeightedReward<Scenario>[];
  private readonly timeoutMs: number;
  private readonly log: (line: string) => void;
  private readonly counts = new Map<string, RewardCallStats>();
  private overflowReported = false;

  constructor(entries: Array<RewardFunction<Scenario> | WeightedReward<Scenario>>, options: CompositeRewardOptions = {}) {
    this.entries = (entries ?? []).map(toWeighted);
    if (this.entries.length === 0) throw new StatesetError('ERR_INVALID_REWARD', 'combineRewards needs at least one reward function.');
    for (const { reward } of this.entries) {
      if (this.counts.has(reward.name)) throw new StatesetError('ERR_INVALID_REWARD', `two reward functions are named ${reward.name}: names must be unique.`);
      this.counts.set(reward.name, { calls: 0, failures: { error: 0, nan: 0, timeout: 0 } });
    }
    this.mode = options.mode ?? 'weighted_sum';
    if (!COMBINE_MODES.includes(this.mode)) {
      throw new StatesetError('ERR_INVALID_REWARD', `unknown combine mode ${JSON.stringify(this.mode)}: use one of ${COMBINE_MODES.join(', ')}.`);
    }
    this.timeoutMs = options.timeoutMs ?? DEFAULT_REWARD_TIMEOUT_MS;
    if (!(this.timeoutMs > 0)) throw new StatesetError('ERR_INVALID_REWARD', 'timeoutMs must be a positive number of milliseconds.');
    this.log = options.log ?? ((line) => console.warn(line));
  }

  /** Calls and failures per function since the composite was made. */
  stats(): Record<string, RewardCallStats> {
    return Object.fromEntries([...this.counts].map(([name, s]) => [name, { ...s, failures: { ...s.failures } }]));
  }

  /** Scores one group (the episodes of one scenario); normalize_then_sum normalizes within it. */
  async scoreGroup(episodes: Episode<Scenario>[]): Promise<GroupRewards> {
    const contexts: RewardContext<Scenario>[] = episodes.map((episode) => ({ scenario: episode.scenario, episode }));
    const episodeFns = this.entries.filter((e) => e.reward.scope === 'episode');
    const turnFns = this.entries.filter((e) => e.reward.scope === 'turn');
    const turnTargets = episodes.flatMap((episode, i) => episode.turns.map((turn) => ({ turn, context: contexts[i] })));

    const [episodeScores, turnScores] = await Promise.all([
      Promise.all(episodeFns.map(({ reward }) => Promise.all(episodes.map((e, i) => this.evaluate(reward, e, contexts[i]))))),
      Promise.all(turnFns.map(({ reward }) => Promise.all(turnTargets.map((t) => this.evaluate(reward, t.turn, t.context))))),
    ]);

    const episodeCombined = episodeFns.length
      ? combineScores(episodeScores, episodeFns.map((e) => e.weight), this.mode)
      : new Float32Array(episodes.length);
    const turnCombined = turnFns.length
      ? combineScores(turnScores, turnFns.map((e) => e.weight), this.mode)
      : new Float32Array(turnTargets.length);

    let offset = 0;
    const turnRewards = episodes.map((episode) => {
      const rewards = Float32Array.from(episode.turns, (turn, k) => this.representable(turnCombined[offset + k] + environmentReward(turn), 'a turn reward'));
      offset += episode.turns.length;
      return rewards;
    });
    const rewards = Float32Array.from(episodes, (_, i) => this.representable(episodeCombined[i] + turnRewards[i].reduce((a, b) => a + b, 0), 'an episode reward'));
    const scores = this.perEpisodeScores(episodes, episodeFns, episodeScores, turnFns, turnScores);
    return { episodeRewards: episodeCombined, turnRewards, rewards, scores };
  }

  private perEpisodeScores(
    episodes: Episode<Scenario>[],
    episodeFns: WeightedReward<Scenario>[],
    episodeScores: number[][],
    turnFns: WeightedReward<Scenario>[],
    turnScores: number[][],
  ): Record<string, number>[] {
    let offset = 0;
    return episodes.map((episode, i) => {
      const scores: Record<string, number> = {};
      episodeFns.forEach(({ reward }, f) => (scores[reward.name] = episodeScores[f][i]));
      turnFns.forEach(({ reward }, f) => {
        const valid = turnScores[f].slice(offset, offset + episode.turns.length).filter(Number.isFinite);
        scores[reward.name] = valid.length ? valid.reduce((a, b) => a + b, 0) / valid.length : NaN;
      });
      offset += episode.turns.length;
      return scores;
    });
  }

  /** One call: its score, or NaN after counting and reporting the failure. */
  private async evaluate(reward: RewardFunction<Scenario>, target: unknown, context: RewardContext<Scenario>): Promise<number> {
    const stats = this.counts.get(reward.name)!;
    stats.calls++;
    try {
      const value = scoreOf(await withTimeout(() => reward.score(target as never, context), reward.timeoutMs ?? this.timeoutMs));
      if (isRewardScore(value)) return value;
      return this.failed(reward.name, stats, 'nan', `returned ${String(value)} instead of a finite number within the float32 range (|score| <= 3.4e38)`);
    } catch (err) {
      const kind = err instanceof TimeoutError ? 'timeout' : 'error';
      return this.failed(reward.name, stats, kind, (err as Error)?.message ?? String(err));
    }
  }

  /** A sum of scores, or NaN (missing) where it overflows float32; the first overflow is logged. */
  private representable(value: number, what: string): number {
    const checked = scoreOrMissing(value);
    if (Number.isNaN(checked) && !Number.isNaN(value) && !this.overflowReported) {
      this.overflowReported = true;
      this.log(`[stateset-agents] ${what} summed to ${value}, beyond the float32 range; that episode's reward is treated as missing. Keep rewards well within +-3.4e38.`);
    }
    return checked;
  }

  private failed(name: string, stats: RewardCallStats, kind: FailureKind, detail: string): number {
    stats.lastFailure = `${kind}: ${detail}`;
    if (stats.failures[kind]++ === 0) {
      this.log(`[stateset-agents] reward ${name} failed (${kind}: ${detail}); its score is treated as missing. Later failures of this kind are only counted (CompositeReward.stats()).`);
    }
    return NaN;
  }
}

/** Combines reward functions (optionally weighted, default weight 1) into one CompositeReward. */
export function combineRewards<Scenario = unknown>(
  entries: Array<RewardFunction<Scenario> | WeightedReward<Scenario>>,
  options?: CompositeRewardOptions,
): CompositeReward<Scenario> {
  return new CompositeReward(entries, options);
}

function toWeighted<Scenario>(entry: RewardFunction<Scenario> | WeightedReward<Scenario>): WeightedReward<Scenario> {
  const weighted = 'reward' in entry ? entry : { reward: entry, weight: 1 };
  rewardFunction(weighted.reward);
  if (!Number.isFinite(weighted.weight)) {
    throw new StatesetError('ERR_INVALID_REWARD', `reward ${weighted.reward.name}: weight must be a finite number, got ${weighted.weight}.`);
  }
  return weighted;
}

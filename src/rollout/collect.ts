/**
 * collectRollouts: G episodes per scenario, run in "turn waves": every episode that is
 * waiting for the policy is answered by ONE batched engine call, then the environments
 * step concurrently, then the next wave. Finished episodes make room for new ones, up
 * to `concurrency` at a time. Each group is scored as soon as its last episode ends.
 *
 * Every sampled turn draws from its own seed, derived from (the batch's seed, scenario,
 * member, turn), so members of a group are independent samples and a batch rolls out the
 * same whatever the concurrency. An episode never passes the model's context (nor
 * `maxEpisodeTokens`): its last turn gets only the positions left and, if cut there, ends
 * the episode with reason 'context'.
 */
import type { Agent } from '../agent/agent.js';
import type { GenerationConfig } from '../agent/config.js';
import type { Episode, Trajectory } from '../core/episode.js';
import { StatesetError } from '../core/errors.js';
import { positiveInteger } from '../core/validate.js';
import type { Environment } from '../env/environment.js';
import type { CompositeReward, GroupRewards, RewardCallStats } from '../rewards/composite.js';
import { environmentReward, scoreOrMissing } from '../rewards/types.js';
import { sampleSeed } from '../train/seeds.js';
import { EpisodeRecorder } from './episode-recorder.js';

export interface RolloutOptions<Scenario> {
  /** Episodes per scenario (G). Default 1. */
  groupSize?: number;
  /** Episodes in flight at once; each wave batches all of them. Default 32. */
  concurrency?: number;
  /** Scores episodes and turns; without it, rewards are the environment's own (or 0). */
  rewards?: CompositeReward<Scenario>;
  /**
   * Tokens an episode may hold, below the model's own context (maxPositionEmbeddings),
   * which always bounds it. A turn gets at most the tokens left; one cut by the bound has
   * finish reason 'context' and ends the episode (done reason 'context').
   */
  maxEpisodeTokens?: number;
  /** Sampling overrides for these rollouts; `seed` is the batch's seed, every sample's own derives from it. */
  generation?: Partial<GenerationConfig>;
}

export interface RolloutBatch<Scenario> {
  /** Group-major: scenario g's member m is at g * groupSize + m. */
  trajectories: Trajectory<Scenario>[];
  groupSize: number;
  stats: {
    episodes: number;
    /** Batched engine calls made (one per wave, and one more per distinct budget of turns near the context). */
    generateCalls: number;
    sampledTokens: number;
    /** Per reward function: calls and failures so far. */
    rewardCalls?: Record<string, RewardCallStats>;
  };
}

export async function collectRollouts<Scenario>(
  agent: Agent,
  environment: Environment<Scenario, any>,
  scenarios: Scenario[],
  options: RolloutOptions<Scenario> = {},
): Promise<RolloutBatch<Scenario>> {
  const groupSize = positiveInteger('collectRollouts: groupSize', options.groupSize ?? 1, 'ERR_INVALID_ARGUMENT');
  const concurrency = positiveInteger('collectRollouts: concurrency', options.concurrency ?? 32, 'ERR_INVALID_ARGUMENT');
  const maxEpisodeTokens =
    options.maxEpisodeTokens === undefined ? Infinity : positiveInteger('collectRollouts: maxEpisodeTokens', options.maxEpisodeTokens, 'ERR_INVALID_ARGUMENT');
  if (!Array.isArray(scenarios) || scenarios.length === 0) {
    throw new StatesetError('ERR_INVALID_ARGUMENT', 'collectRollouts needs a non-empty array of scenarios.');
  }

  const contextTokens = Math.min(maxEpisodeTokens, agent.policy.config.maxPositionEmbeddings ?? Infinity);
  // One draw of the agent's settings (and its seed) for the whole batch, whatever the number of waves.
  const generation = agent.generationFor(options.generation);
  const queue = scenarios.flatMap((scenario, group) => Array.from({ length: groupSize }, (_, member) => ({ scenario, group, member })));
  const finished: EpisodeRecorder<Scenario>[][] = scenarios.map(() => []);
  const scoring: Promise<Trajectory<Scenario>[]>[] = [];
  let active: EpisodeRecorder<Scenario>[] = [];
  let generateCalls = 0;

  while (queue.length || active.length) {
    const starting = queue.splice(0, concurrency - active.length);
    active.push(...(await Promise.all(starting.map((s) => EpisodeRecorder.start(agent, environment, s.scenario, s.group, s.member)))));

    for (const episode of active) {
      if (episode.tokens.length >= contextTokens) episode.end('context', contextTokens);
    }
    // Episodes near the context get fewer new tokens: one engine call per budget, so that
    // no row's budget (nor, with its own seed, its tokens) depends on the others in the wave.
    const waiting = byBudget(active.filter((e) => !e.done), (e) => Math.min(generation.maxNewTokens, contextTokens - e.tokens.length));
    const turns: Array<() => Promise<void>> = [];
    for (const [maxNewTokens, episodes] of waiting) {
      const seeds = episodes.map((e) => sampleSeed(generation.seed, e.group, e.member, e.turns.length));
      const completions = await agent.generate(episodes.map((e) => e.context()), { ...generation, maxNewTokens }, seeds);
      generateCalls++;
      const cutByContext = maxNewTokens < generation.maxNewTokens;
      turns.push(...episodes.map((e, i) => () => e.advance(completions[i], cutByContext)));
    }
    await Promise.all(turns.map((advance) => advance()));

    for (const episode of active.filter((e) => e.done)) {
      const group = finished[episode.group];
      group.push(episode);
      if (group.length === groupSize) {
        const scored = scoreGroup(group, options.rewards);
        scored.catch(() => {}); // awaited below; this only keeps Node from calling it unhandled meanwhile
        scoring.push(scored);
      }
    }
    active = active.filter((e) => !e.done);
  }

  const trajectories = (await Promise.all(scoring)).flat().sort((a, b) => a.group - b.group || a.member - b.member);
  return {
    trajectories,
    groupSize,
    stats: {
      episodes: trajectories.length,
      generateCalls,
      sampledTokens: trajectories.reduce((n, t) => n + t.mask.reduce((a, b) => a + b, 0), 0),
      ...(options.rewards ? { rewardCalls: options.rewards.stats() } : {}),
    },
  };
}

/** The episodes by the tokens their next turn may sample, in order of first appearance. */
function byBudget<Scenario>(episodes: EpisodeRecorder<Scenario>[], budget: (e: EpisodeRecorder<Scenario>) => number): Map<number, EpisodeRecorder<Scenario>[]> {
  const out = new Map<number, EpisodeRecorder<Scenario>[]>();
  for (const episode of episodes) {
    const tokens = budget(episode);
    out.set(tokens, [...(out.get(tokens) ?? []), episode]);
  }
  return out;
}

async function scoreGroup<Scenario>(group: EpisodeRecorder<Scenario>[], rewards: CompositeReward<Scenario> | undefined): Promise<Trajectory<Scenario>[]> {
  const episodes = group.map((e) => e.episode());
  const scored = rewards ? await rewards.scoreGroup(episodes) : environmentRewards(episodes);
  return group.map((recorder, i) => ({
    ...episodes[i],
    group: recorder.group,
    member: recorder.member,
    tokens: Int32Array.from(recorder.tokens),
    mask: Uint8Array.from(recorder.mask),
    logprobs: Float32Array.from(recorder.logprobs),
    promptLength: recorder.promptLength,
    turnRewards: scored.turnRewards[i],
    episodeReward: scored.episodeRewards[i],
    reward: scored.rewards[i],
    rewardScores: scored.scores[i],
  }));
}

/** Rewards when no reward functions are given: the environment's per-turn rewards only. */
function environmentRewards(episodes: Episode[]): GroupRewards {
  const turnRewards = episodes.map((e) => Float32Array.from(e.turns, environmentReward));
  return {
    episodeRewards: new Float32Array(episodes.length),
    turnRewards,
    rewards: Float32Array.from(turnRewards, (r) => scoreOrMissing(r.reduce((a, b) => a + b, 0))),
    scores: episodes.map(() => ({})),
  };
}

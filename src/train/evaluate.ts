/**
 * Evaluation on held-out scenarios: one episode each, sampled with the run's generation
 * settings at a seed derived from (seed, step), scored by the run's rewards. The same
 * summary of rewards and lengths describes training rollouts in metrics.jsonl.
 */
import type { Agent } from '../agent/agent.js';
import type { GenerationConfig } from '../agent/config.js';
import type { Trajectory } from '../core/episode.js';
import type { Environment } from '../env/environment.js';
import type { CompositeReward } from '../rewards/composite.js';
import { collectRollouts } from '../rollout/collect.js';
import type { Metrics } from '../tracking/tracker.js';
import { meanOf, stdOf } from './stats.js';

/** reward_mean, reward_std, completion_tokens_mean, turns_mean and `reward/<function>` means. */
export function rolloutSummary(trajectories: Trajectory[]): Metrics {
  const rewards = trajectories.map((t) => t.reward);
  const perFunction = new Set(trajectories.flatMap((t) => Object.keys(t.rewardScores)));
  return {
    reward_mean: meanOf(rewards),
    reward_std: stdOf(rewards),
    completion_tokens_mean: meanOf(trajectories.map((t) => t.turns.reduce((n, turn) => n + turn.end - turn.start, 0))),
    turns_mean: meanOf(trajectories.map((t) => t.turns.length)),
    ...Object.fromEntries([...perFunction].map((name) => [`reward/${name}`, meanOf(trajectories.map((t) => t.rewardScores[name] ?? NaN))])),
  };
}

export interface EvaluateOptions<S> {
  agent: Agent;
  environment: Environment<S, any>;
  scenarios: S[];
  rewards?: CompositeReward<S>;
  generation: Partial<GenerationConfig> & { seed: number };
  concurrency?: number;
}

export async function evaluate<S>(options: EvaluateOptions<S>): Promise<{ metrics: Metrics; trajectories: Trajectory<S>[] }> {
  const batch = await collectRollouts(options.agent, options.environment, options.scenarios, {
    groupSize: 1,
    concurrency: options.concurrency,
    rewards: options.rewards,
    generation: options.generation,
  });
  return { metrics: { ...rolloutSummary(batch.trajectories), episodes: batch.trajectories.length }, trajectories: batch.trajectories };
}

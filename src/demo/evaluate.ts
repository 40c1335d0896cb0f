/**
 * Evaluation of a policy on held-out scenarios: one sampled conversation per scenario
 * (temperature 1, a fixed seed, so "before" and "after" see the same randomness), scored
 * with the demo reward; and the KL of the trained policy to the base model on those
 * conversations.
 */
import type { Agent } from '../agent/agent.js';
import type { Trajectory } from '../core/episode.js';
import type { ComputeBackend } from '../backends/compute-backend.js';
import { evaluate } from '../train/evaluate.js';
import { demoReward, replyMetrics, type ReplyMetrics } from './metrics.js';
import { demoEnvironment, type DemoScenario } from './scenarios.js';

export interface DemoEvaluation {
  metrics: ReplyMetrics;
  /** One per scenario, in the scenarios' order. */
  conversations: Trajectory<DemoScenario>[];
}

export interface DemoEvaluateOptions {
  seed: number;
  maxNewTokens: number;
}

export async function evaluateDemo(agent: Agent, scenarios: DemoScenario[], options: DemoEvaluateOptions): Promise<DemoEvaluation> {
  const { trajectories } = await evaluate<DemoScenario>({
    agent,
    environment: demoEnvironment(),
    scenarios,
    rewards: demoReward<DemoScenario>(),
    generation: { temperature: 1, seed: options.seed, maxNewTokens: options.maxNewTokens },
  });
  return { metrics: await replyMetrics(trajectories), conversations: trajectories };
}

/**
 * Mean over sampled tokens of log p_policy - log p_base: the k1 estimate of
 * KL(policy || base) per token, on conversations sampled from the policy at temperature 1
 * (their rollout log-probs are the policy's).
 */
export async function klToBase(base: Pick<ComputeBackend, 'score'>, conversations: Trajectory[]): Promise<number> {
  const scored = await base.score(
    conversations.map((c) => c.tokens),
    { start: 1 },
  );
  let sum = 0;
  let tokens = 0;
  conversations.forEach((c, i) => {
    for (let t = 1; t < c.tokens.length; t++) {
      if (!c.mask[t]) continue;
      sum += c.logprobs[t] - scored[i].logprobs[t - 1];
      tokens++;
    }
  });
  return tokens ? sum / tokens : 0;
}

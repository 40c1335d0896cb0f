/**
 * Evaluation of a policy on order-desk scenarios: one conversation per scenario (greedy by
 * default, ORDER_DESK_EVAL_TEMPERATURE; sampled ones use a fixed seed, so "before" and
 * "after" see the same randomness), scored
 * by the run's rewards, and measured by the checks: the success rate (all checks pass),
 * each check's pass rate, tool-call accuracy and the assistant messages per episode.
 */
import type { Agent } from '../../agent/agent.js';
import type { Episode, Trajectory } from '../../core/episode.js';
import { combineRewards } from '../../rewards/composite.js';
import { evaluate } from '../../train/evaluate.js';
import { meanOf } from '../../train/stats.js';
import { ORDER_DESK_CHECKS, traceEpisode, type OrderDeskCheck } from './checks.js';
import { orderDeskEnvironment } from './environment.js';
import { orderDeskRewards } from './rewards.js';
import { ORDER_DESK_EVAL_TEMPERATURE } from './settings.js';
import { ORDER_DESK_INTENTS, type OrderDeskIntent, type OrderDeskScenario } from './scenarios.js';

export type OrderDeskMetrics = Record<OrderDeskCheck, number> & {
  episodes: number;
  /** Episodes whose every check passed. */
  success_rate: number;
  /** Tool calls that were the next required call with the right arguments, of all tried. */
  tool_call_accuracy: number;
  /** Assistant messages per episode, tool calls included. */
  mean_turns: number;
  /** Mean episode reward (orderDeskRewards). */
  reward_mean: number;
};

export interface OrderDeskEvaluation {
  metrics: OrderDeskMetrics;
  /** One per scenario, in the scenarios' order. */
  conversations: Trajectory<OrderDeskScenario>[];
}

export async function evaluateOrderDesk(agent: Agent, scenarios: OrderDeskScenario[], options: { seed: number; maxNewTokens: number; temperature?: number }): Promise<OrderDeskEvaluation> {
  const { trajectories } = await evaluate<OrderDeskScenario>({
    agent,
    environment: orderDeskEnvironment(),
    scenarios,
    rewards: combineRewards(orderDeskRewards()),
    generation: { temperature: options.temperature ?? ORDER_DESK_EVAL_TEMPERATURE, seed: options.seed, maxNewTokens: options.maxNewTokens },
  });
  return { metrics: orderDeskMetrics(trajectories), conversations: trajectories };
}

/** The figures of scored episodes (each with its reward, as a rollout gives it). */
export function orderDeskMetrics(episodes: Array<Episode<OrderDeskScenario> & { reward: number }>): OrderDeskMetrics {
  const traces = episodes.map(traceEpisode);
  const rate = (pass: (i: number) => boolean) => meanOf(traces.map((_, i) => (pass(i) ? 1 : 0)));
  const tried = traces.reduce((n, t) => n + t.turns.reduce((m, turn) => m + turn.triedCalls, 0), 0);
  const right = traces.reduce((n, t) => n + t.turns.reduce((m, turn) => m + turn.rightCalls, 0), 0);
  return {
    episodes: episodes.length,
    success_rate: rate((i) => traces[i].success),
    ...(Object.fromEntries(ORDER_DESK_CHECKS.map((check) => [check, rate((i) => traces[i].checks[check])])) as Record<OrderDeskCheck, number>),
    tool_call_accuracy: tried ? right / tried : 0,
    mean_turns: meanOf(episodes.map((e) => e.turns.length)),
    reward_mean: meanOf(episodes.map((e) => e.reward)),
  };
}

/** The success rate of each intent's episodes. */
export function successByIntent(episodes: Episode<OrderDeskScenario>[]): Record<OrderDeskIntent, number> {
  return Object.fromEntries(
    ORDER_DESK_INTENTS.map((intent) => [intent, meanOf(episodes.filter((e) => e.scenario.metadata.intent === intent).map((e) => (traceEpisode(e).success ? 1 : 0)))]),
  ) as Record<OrderDeskIntent, number>;
}

/**
 * The order desk's rewards: the checks of checks.ts as named reward functions, at either
 * scope. At episode scope a check scores 1 when it passes and 0 when it fails. At turn
 * scope it scores the assistant message that broke or earned it, so per-turn credit
 * (creditAssignment 'turn') can tell which message did what:
 *   right_tool            1 for each message that did the right thing at its point, else -1
 *   no_forbidden_action   -1 for a message with a forbidden refund or address change, else 0
 *   no_hallucinated_data  -1 for a reply that states data nobody gave it, else 0
 *   states_tool_fact      1 for the reply that states the tool's fact, else 0
 * `success` (episode scope) is 1 when all four pass.
 *
 * The run (orderDeskRewards) scores each message's own conduct per turn (right_tool +1 or
 * -1; a forbidden action or hallucinated data -1) and the rest per episode. The +1 for a
 * right message matters: with only penalties, answering at once without any tool call
 * (one wrong message) scored the same as a right lookup followed by a bad answer, and
 * better than a wrong call, and the first run learned to stop calling tools. Politeness
 * and conciseness, the customer-service demo's built-ins, come with a small weight.
 */
import type { Episode, Turn } from '../../core/episode.js';
import { conciseness } from '../../rewards/builtins/conciseness.js';
import { politeness } from '../../rewards/builtins/politeness.js';
import type { WeightedReward } from '../../rewards/composite.js';
import { rewardFunction, type RewardContext, type RewardFunction, type RewardScope } from '../../rewards/types.js';
import { traceEpisode, type OrderDeskCheck, type TurnTrace } from './checks.js';
import type { OrderDeskScenario } from './scenarios.js';

const TURN_SCORES: Record<OrderDeskCheck, (trace: TurnTrace) => number> = {
  right_tool: (t) => (t.right ? 1 : -1),
  no_forbidden_action: (t) => (t.forbidden ? -1 : 0),
  states_tool_fact: (t) => (t.statesFact ? 1 : 0),
  no_hallucinated_data: (t) => (t.hallucinated.length ? -1 : 0),
};

/** One check as a reward function (see the file comment for the scores). */
export function checkReward(check: OrderDeskCheck, scope: RewardScope = 'episode'): RewardFunction<OrderDeskScenario> {
  if (scope === 'turn') {
    return rewardFunction({
      name: check,
      scope: 'turn',
      score: (turn: Turn, { episode }: RewardContext<OrderDeskScenario>) => TURN_SCORES[check](traceEpisode(episode).turns[turn.index]),
    });
  }
  return rewardFunction({ name: check, scope: 'episode', score: (episode: Episode<OrderDeskScenario>) => (traceEpisode(episode).checks[check] ? 1 : 0) });
}

/** 1 when every check passes. */
export function successReward(): RewardFunction<OrderDeskScenario> {
  return rewardFunction({ name: 'success', scope: 'episode', score: (episode: Episode<OrderDeskScenario>) => (traceEpisode(episode).success ? 1 : 0) });
}

/** Replies under this many words get the full conciseness score. */
export const ORDER_DESK_CONCISE_WORDS = 25;

/** What the order-desk run trains on (see the file comment). */
export function orderDeskRewards(): WeightedReward<OrderDeskScenario>[] {
  return [
    ...(['right_tool', 'no_forbidden_action', 'no_hallucinated_data'] as const).map((check) => ({ reward: checkReward(check, 'turn'), weight: 1 })),
    { reward: checkReward('states_tool_fact', 'turn'), weight: 2 },
    { reward: successReward(), weight: 2 },
    { reward: politeness() as RewardFunction<OrderDeskScenario>, weight: 0.1 },
    { reward: conciseness({ maxWords: ORDER_DESK_CONCISE_WORDS }) as RewardFunction<OrderDeskScenario>, weight: 0.1 },
  ];
}

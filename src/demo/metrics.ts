/**
 * What the demo rewards and how it measures a policy: the built-in politeness and
 * conciseness rewards (one each, summed), and on held-out conversations the rates of
 * polite and concise replies, their mean length and the mean episode reward.
 */
import type { Episode } from '../core/episode.js';
import { conciseness } from '../rewards/builtins/conciseness.js';
import { wordCount } from '../rewards/builtins/per-turn.js';
import { politeness } from '../rewards/builtins/politeness.js';
import { combineRewards, type CompositeReward } from '../rewards/composite.js';

/** Replies under 20 words are concise: the conciseness reward is 1 up to 19 words. */
export const CONCISE_MAX_WORDS = 19;

/** The demo's reward functions (politeness counts the built-in polite phrases). */
export function demoRewardFunctions() {
  return [politeness(), conciseness({ maxWords: CONCISE_MAX_WORDS })];
}

/** The demo's reward: politeness + conciseness, each the mean over the episode's replies (0..2). */
export function demoReward<Scenario>(): CompositeReward<Scenario> {
  return combineRewards<Scenario>(demoRewardFunctions());
}

export interface ReplyMetrics {
  /** Mean episode reward (politeness + conciseness). */
  reward_mean: number;
  /** Fraction of assistant replies with at least one polite phrase. */
  polite_rate: number;
  /** Mean words per assistant reply. */
  mean_words: number;
  /** Fraction of assistant replies under 20 words. */
  concise_rate: number;
}

/** The metrics of scored episodes (each with its demo reward, as a rollout gives it). */
export async function replyMetrics(episodes: Array<Episode & { reward: number }>): Promise<ReplyMetrics> {
  // Per-reply scores from the same built-ins, at turn scope: 1 = polite / concise.
  const [polite, concise] = await Promise.all(
    [politeness({ scope: 'turn' }), conciseness({ maxWords: CONCISE_MAX_WORDS, scope: 'turn' })].map(async (fn) =>
      (await combineRewards([fn]).scoreGroup(episodes)).turnRewards.flatMap((scores) => [...scores]),
    ),
  );
  const replies = episodes.flatMap((e) => e.turns);
  const mean = (values: number[]) => (values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0);
  return {
    reward_mean: mean(episodes.map((e) => e.reward)),
    polite_rate: mean(polite.map((s) => (s === 1 ? 1 : 0))),
    mean_words: mean(replies.map((t) => wordCount(t.assistant.content))),
    concise_rate: mean(concise.map((s) => (s === 1 ? 1 : 0))),
  };
}

/**
 * What a rollout produces: an Episode (the conversation, turn by turn) and a Trajectory
 * (the episode plus the exact token ids, loss mask and log-probs the trainer needs).
 */
import type { Message } from './messages.js';

/** How one tool call went. */
export interface ToolCallRecord {
  name: string;
  ok: boolean;
  error?: string;
}

/** One assistant message the policy generated, and what came back. */
export interface Turn {
  index: number;
  /** The message as the environment read it (tool calls parsed). */
  assistant: Message;
  /** The environment's answer: the user's next message or tool results (empty at the end). */
  replies: Message[];
  toolCalls: ToolCallRecord[];
  /**
   * 'stop': the policy sampled a stop token; 'length': it reached maxNewTokens; 'context':
   * it reached the end of the model's context (or the episode's token budget), which ends
   * the episode. Turns cut by 'context' are left out of the loss (their tokens get mask 0).
   */
  finishReason: 'stop' | 'length' | 'context';
  /** Where the turn's sampled ids lie in the trajectory's tokens: [start, end). */
  start: number;
  end: number;
  /** The environment's own reward for this turn, when it gives one. */
  envReward?: number;
}

export interface Episode<Scenario = unknown> {
  scenario: Scenario;
  /** The whole conversation, system prompt and tool messages included. */
  messages: Message[];
  turns: Turn[];
  /** Why the episode ended: max_turns, user_done, stop_condition, context (no room left in the model's context), ... */
  doneReason: string;
}

export interface Trajectory<Scenario = unknown> extends Episode<Scenario> {
  /** Index of the scenario in the batch; members of one group share it. */
  group: number;
  /** Index within the group. */
  member: number;
  /** Every token of the conversation, prompt included, as the policy saw and produced them. */
  tokens: Int32Array;
  /** 1 on tokens the policy sampled (end-of-turn tokens included), 0 elsewhere. */
  mask: Uint8Array;
  /** Log-probability of each sampled token at rollout time; 0 where mask is 0. */
  logprobs: Float32Array;
  /** Tokens before the first sampled one. */
  promptLength: number;
  /** Reward of each turn (turn-scope reward functions plus the environment's); NaN = missing. */
  turnRewards: Float32Array;
  /** Reward of the episode from episode-scope reward functions; NaN = missing. */
  episodeReward: number;
  /** episodeReward + sum of turnRewards: the outcome reward R. NaN = missing. */
  reward: number;
  /** Each reward function's score of the episode (NaN where it failed). */
  rewardScores: Record<string, number>;
}

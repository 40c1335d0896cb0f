/** Settings the order desk's model recipe, evaluation and run share. */

/** Tokens per assistant message: the longest right one (a change_address call) takes about 85. */
export const ORDER_DESK_MAX_NEW_TOKENS = 96;

/**
 * Rollouts sample at 0.5: the tiny model writes a right tool call about half the time
 * greedily and a third of the time at temperature 0.7, and at 1 it rarely finishes a call,
 * so a group of 8 at temperature 1 seldom holds a right episode to learn from.
 */
export const ORDER_DESK_ROLLOUT_TEMPERATURE = 0.5;

/** Held-out evaluation decodes greedily: what the agent does when deployed, without sampling noise between before and after. */
export const ORDER_DESK_EVAL_TEMPERATURE = 0;

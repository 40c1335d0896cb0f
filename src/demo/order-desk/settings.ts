/** Settings the order desk's model recipe, evaluation and run share. */

/** Tokens per assistant message: the longest right one (a change_address call) takes about 85. */
export const ORDER_DESK_MAX_NEW_TOKENS = 96;

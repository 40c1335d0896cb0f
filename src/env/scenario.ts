/** A conversation scenario: who the user is, what they want, and optionally their lines. */

export interface ConversationScenario {
  id?: string;
  /** Who the user is, for a simulated user ("an impatient customer whose order is late"). */
  persona?: string;
  /** Facts the assistant is given, appended to its system prompt. */
  context?: string;
  /** The user's lines in order: all of them for a scripted user, the opener for a simulated one. */
  userTurns?: string[];
  /** Replaces the environment's system prompt for this scenario. */
  systemPrompt?: string;
  /** Anything reward functions need (a reference answer, labels). */
  metadata?: Record<string, unknown>;
}

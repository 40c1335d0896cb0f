/** A conversation scenario: who the user is, what they want, and optionally their lines. */
import { z } from 'zod';
import { parseWith } from '../core/validate.js';

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

/** Strict: a misspelt field (`userTurn`) is an error, not a scenario without it. Your own fields go in `metadata`. */
export const conversationScenarioSchema = z.strictObject({
  id: z.string().optional(),
  persona: z.string().optional(),
  context: z.string().optional(),
  userTurns: z.array(z.string()).optional(),
  systemPrompt: z.string().optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
});

/** `scenario` checked against the fields a ConversationScenario has; ERR_INVALID_CONFIG names `where`. */
export function parseConversationScenario(scenario: unknown, where: string): ConversationScenario {
  return parseWith(conversationScenarioSchema, scenario, 'ERR_INVALID_CONFIG', where);
}

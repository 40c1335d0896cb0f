/**
 * User simulators: who speaks for the user in a conversation environment. A scripted
 * user reads the scenario's lines; a simulated user is a language model playing the
 * scenario's persona (a local agent or an OpenAI-compatible endpoint).
 */
import type { ChatBackend } from '../agent/chat-backend.js';
import { StatesetError } from '../core/errors.js';
import type { Message } from '../core/messages.js';
import type { ConversationScenario } from './scenario.js';

export interface UserTurnContext {
  scenario: ConversationScenario;
  /** The conversation so far, as the assistant sees it. */
  messages: Message[];
  /** How many user messages were sent before this one. */
  turn: number;
}

export interface UserSimulator {
  /** The user's next message, or null when the user has nothing more to say. */
  nextMessage(context: UserTurnContext): Promise<string | null>;
  /** Throws ERR_INVALID_CONFIG, naming `where`, when this user cannot play `scenario`. */
  checkScenario?(scenario: ConversationScenario, where: string): void;
}

/** Speaks the scenario's `userTurns` in order, then ends the conversation. */
export function scriptedUser(): UserSimulator {
  return {
    async nextMessage({ scenario, turn }) {
      return scenario.userTurns?.[turn] ?? null;
    },
    checkScenario(scenario, where) {
      if (!scenario.userTurns?.length) {
        throw new StatesetError('ERR_INVALID_CONFIG', `${where}${scenario.id ? ` (id ${scenario.id})` : ''} has no userTurns: the scripted user speaks them in order; give at least its first line, or use a simulated user.`);
      }
    },
  };
}

export interface SimulatedUserOptions {
  chat: ChatBackend;
  /** Added to the persona prompt, e.g. how to behave or when to stop. */
  instructions?: string;
  /** The simulated user writes this when satisfied; the conversation then ends. Default [END]. */
  endMarker?: string;
  maxTokens?: number;
  temperature?: number;
}

/**
 * A language model playing the user from the scenario's persona. It sees the conversation
 * with roles swapped (the assistant's messages as the other party's); its first line is the
 * scenario's opener when there is one.
 */
export function simulatedUser(options: SimulatedUserOptions): UserSimulator {
  const endMarker = options.endMarker ?? '[END]';
  return {
    async nextMessage({ scenario, messages, turn }) {
      const opener = turn === 0 ? scenario.userTurns?.[0] : undefined;
      if (opener !== undefined) return opener;
      const reply = await options.chat.complete([{ role: 'system', content: personaPrompt(scenario, options.instructions, endMarker) }, ...asSeenByUser(messages)], {
        maxTokens: options.maxTokens,
        temperature: options.temperature,
      });
      if (reply.includes(endMarker)) return null;
      const text = reply.trim();
      return text === '' ? null : text;
    },
  };
}

function personaPrompt(scenario: ConversationScenario, instructions: string | undefined, endMarker: string): string {
  return [
    'You are role-playing a user talking to an assistant. Write only the user\'s next message.',
    scenario.persona ? `Who you are: ${scenario.persona}` : '',
    instructions ?? '',
    `When your request is resolved or you want to stop, reply with ${endMarker} only.`,
  ]
    .filter(Boolean)
    .join('\n');
}

/** The conversation from the user's side: roles swapped; system, tool and tool-calling messages left out. */
function asSeenByUser(messages: Message[]): Message[] {
  const swapped = messages.flatMap((m): Message[] =>
    m.role === 'user' ? [{ role: 'assistant', content: m.content }] : m.role === 'assistant' && !m.toolCalls?.length ? [{ role: 'user', content: m.content }] : [],
  );
  return swapped.length ? swapped : [{ role: 'user', content: '(The conversation starts. Write your first message.)' }];
}

/**
 * The Environment interface: what a rollout talks to. `reset` opens an episode from a
 * scenario; `step` receives each assistant message and answers with the user's or the
 * tools' reply, an optional reward for that turn, and whether the episode is over.
 */
import type { ToolCallRecord } from '../core/episode.js';
import type { Message } from '../core/messages.js';
import type { TemplateTool } from '../agent/chat-template.js';

export interface EnvironmentStart<State> {
  state: State;
  /** The opening messages (system prompt, first user message). */
  messages: Message[];
  /** Tools the model may call in this episode, described for the chat template. */
  tools?: TemplateTool[];
}

export interface EnvironmentStep<State> {
  state: State;
  /** The assistant message as the environment read it (tool calls parsed). */
  assistant: Message;
  /** The reply to append: the user's next message, or tool results (often none when done). */
  messages: Message[];
  /** A reward for this assistant turn from the environment itself, if it gives one. */
  reward?: number;
  /** Tool calls of this assistant message, including those that could not be read or run. */
  toolCalls: ToolCallRecord[];
  done: boolean;
  /** Why the episode ended, when `done`. */
  doneReason?: string;
}

export interface Environment<Scenario = unknown, State = unknown> {
  reset(scenario: Scenario): Promise<EnvironmentStart<State>>;
  step(state: State, assistant: Message): Promise<EnvironmentStep<State>>;
  /**
   * Throws (ERR_INVALID_CONFIG, naming `where`, e.g. "scenarios.3") when `scenario` could not
   * run here. The trainer checks every scenario with it before a run writes anything, so a
   * bad scenario is not found only when a rollout reaches it.
   */
  checkScenario?(scenario: unknown, where: string): void;
  /** Assistant turns an episode has at most, when the environment caps them (the trainer's default Dr. GRPO L_max is maxNewTokens times this). */
  readonly maxTurns?: number;
}

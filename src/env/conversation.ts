/**
 * ConversationEnvironment: a multi-turn conversation between the agent and a user
 * (scripted or simulated), with optional tools. An episode ends after `maxTurns` replies
 * to the user, when the user has nothing more to say, or when `stopWhen` says so.
 */
import { hermesToolCalls, type ToolCallError, type ToolCallFormat } from '../agent/tool-calls.js';
import { StatesetError } from '../core/errors.js';
import type { Message, ToolCall } from '../core/messages.js';
import { positiveInteger } from '../core/validate.js';
import type { ToolCallRecord } from '../core/episode.js';
import type { Environment, EnvironmentStart, EnvironmentStep } from './environment.js';
import { parseConversationScenario, type ConversationScenario } from './scenario.js';
import { describeTool, runToolCall, type Tool } from './tools.js';
import { scriptedUser, type UserSimulator } from './users.js';

export interface ConversationState {
  scenario: ConversationScenario;
  messages: Message[];
  /** User messages sent so far. */
  userTurns: number;
  /** Assistant replies to the user so far (tool-calling messages not counted). */
  assistantTurns: number;
  /** Tool calls made since the last user message. */
  toolCallsThisTurn: number;
  /** Assistant messages generated so far, tool-calling ones included. */
  steps: number;
}

export interface StopContext {
  scenario: ConversationScenario;
  messages: Message[];
  assistantTurns: number;
}

export interface ConversationEnvironmentOptions {
  /** The assistant's system prompt; the scenario's `context` is appended to it. */
  systemPrompt?: string;
  /** Default: scriptedUser(). */
  user?: UserSimulator;
  /** Replies to the user at most. Default 4. */
  maxTurns?: number;
  tools?: Tool[];
  /** How tool calls are written in the assistant's text. Default: Hermes <tool_call> tags. */
  toolCallFormat?: ToolCallFormat;
  /** Tool calls allowed between two user messages; more get an error reply. Default 4. */
  maxToolCallsPerTurn?: number;
  /** Ends the episode after an assistant reply when it returns true (or a reason string). */
  stopWhen?: (context: StopContext) => boolean | string | Promise<boolean | string>;
}

export class ConversationEnvironment implements Environment<ConversationScenario, ConversationState> {
  private readonly user: UserSimulator;
  /** Replies to the user an episode has at most. */
  readonly maxTurns: number;
  private readonly tools: ReadonlyMap<string, Tool>;
  private readonly toolCallFormat: ToolCallFormat;
  private readonly maxToolCallsPerTurn: number;

  constructor(private readonly options: ConversationEnvironmentOptions = {}) {
    this.user = options.user ?? scriptedUser();
    this.maxTurns = positiveInteger('ConversationEnvironment.maxTurns', options.maxTurns ?? 4, 'ERR_INVALID_CONFIG');
    this.maxToolCallsPerTurn = positiveInteger('ConversationEnvironment.maxToolCallsPerTurn', options.maxToolCallsPerTurn ?? 4, 'ERR_INVALID_CONFIG');
    this.toolCallFormat = options.toolCallFormat ?? hermesToolCalls;
    this.tools = new Map((options.tools ?? []).map((t) => [t.name, t]));
    if (this.tools.size !== (options.tools ?? []).length) {
      throw new StatesetError('ERR_INVALID_TOOL', 'two tools share a name: give each tool a unique name.');
    }
  }

  /** The scenario's fields are those of a ConversationScenario, and the user can play it. */
  checkScenario(scenario: unknown, where: string): void {
    this.user.checkScenario?.(parseConversationScenario(scenario, where), where);
  }

  async reset(scenario: ConversationScenario): Promise<EnvironmentStart<ConversationState>> {
    const system = [scenario.systemPrompt ?? this.options.systemPrompt, scenario.context].filter(Boolean).join('\n\n');
    const opening: Message[] = system ? [{ role: 'system', content: system }] : [];
    const first = await this.user.nextMessage({ scenario, messages: opening, turn: 0 });
    if (first === null) {
      throw new StatesetError('ERR_ENVIRONMENT', `scenario ${scenario.id ?? ''} has no first user message: give userTurns, or a simulated user.`);
    }
    const messages: Message[] = [...opening, { role: 'user', content: first }];
    const state = { scenario, messages, userTurns: 1, assistantTurns: 0, toolCallsThisTurn: 0, steps: 0 };
    return { state, messages, tools: [...this.tools.values()].map(describeTool) };
  }

  async step(state: ConversationState, reply: Message): Promise<EnvironmentStep<ConversationState>> {
    const steps = state.steps + 1;
    const { calls, errors } = this.tools.size ? this.toolCallFormat.parse(reply.content, `call_${steps}`) : { calls: [], errors: [] };
    const assistant: Message = calls.length ? { ...reply, toolCalls: calls } : reply;
    if (calls.length || errors.length) return this.toolRound({ ...state, steps }, assistant, calls, errors);

    const messages = [...state.messages, assistant];
    const assistantTurns = state.assistantTurns + 1;
    const ended = (doneReason: string): EnvironmentStep<ConversationState> => ({
      state: { ...state, messages, assistantTurns, steps },
      assistant,
      messages: [],
      toolCalls: [],
      done: true,
      doneReason,
    });
    const stop = await this.options.stopWhen?.({ scenario: state.scenario, messages, assistantTurns });
    if (stop) return ended(typeof stop === 'string' ? stop : 'stop_condition');
    if (assistantTurns >= this.maxTurns) return ended('max_turns');
    const next = await this.user.nextMessage({ scenario: state.scenario, messages, turn: state.userTurns });
    if (next === null) return ended('user_done');
    const userMessage: Message = { role: 'user', content: next };
    return {
      state: { ...state, messages: [...messages, userMessage], userTurns: state.userTurns + 1, assistantTurns, toolCallsThisTurn: 0, steps },
      assistant,
      messages: [userMessage],
      toolCalls: [],
      done: false,
    };
  }

  /** Runs the calls of an assistant message; every problem becomes an error tool message. */
  private async toolRound(state: ConversationState, assistant: Message, calls: ToolCall[], errors: ToolCallError[]): Promise<EnvironmentStep<ConversationState>> {
    const toolMessages: Message[] = [];
    const toolCalls: ToolCallRecord[] = [];
    errors.forEach((e, i) => {
      toolMessages.push({ role: 'tool', content: `Error: ${e.reason}. Write <tool_call>{"name": "<tool>", "arguments": {...}}</tool_call>.`, toolCallId: `call_${state.steps}_invalid_${i}` });
      toolCalls.push({ name: '', ok: false, error: e.reason });
    });
    let made = state.toolCallsThisTurn;
    for (const call of calls) {
      if (made++ >= this.maxToolCallsPerTurn) {
        const error = `tool call limit reached (${this.maxToolCallsPerTurn} per turn); answer the user now`;
        toolMessages.push({ role: 'tool', content: `Error: ${error}.`, toolCallId: call.id, name: call.name });
        toolCalls.push({ name: call.name, ok: false, error });
        continue;
      }
      const outcome = await runToolCall(this.tools, call);
      toolMessages.push(outcome.message);
      toolCalls.push({ name: call.name, ok: outcome.ok, ...(outcome.error === undefined ? {} : { error: outcome.error }) });
    }
    const next = { ...state, messages: [...state.messages, assistant, ...toolMessages], toolCallsThisTurn: made };
    // Every tool round is one more generation: cap them so a model stuck calling tools ends.
    const stuck = state.steps >= this.maxTurns * (this.maxToolCallsPerTurn + 1);
    return { state: next, assistant, messages: toolMessages, toolCalls, done: stuck, ...(stuck ? { doneReason: 'max_steps' } : {}) };
  }
}

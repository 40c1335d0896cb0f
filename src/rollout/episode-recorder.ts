/**
 * One episode being rolled out: the token sequence grows by the policy's sampled ids
 * (mask 1, with their log-probs) and by the tokenized template text between turns
 * (mask 0), while the environment answers each assistant message.
 */
import type { Agent } from '../agent/agent.js';
import type { TemplateTool } from '../agent/chat-template.js';
import type { PolicyCompletion } from '../agent/policy.js';
import type { Episode, Turn } from '../core/episode.js';
import { StatesetError } from '../core/errors.js';
import type { Message } from '../core/messages.js';
import type { Environment } from '../env/environment.js';
import { textAfterAssistantTurn } from './turn-boundary.js';

export class EpisodeRecorder<Scenario> {
  readonly tokens: number[] = [];
  readonly mask: number[] = [];
  readonly logprobs: number[] = [];
  readonly turns: Turn[] = [];
  messages: Message[];
  doneReason: string | undefined;
  promptLength: number;

  private constructor(
    private readonly agent: Agent,
    private readonly environment: Environment<Scenario, unknown>,
    readonly scenario: Scenario,
    readonly group: number,
    readonly member: number,
    private state: unknown,
    opening: Message[],
    private readonly tools: TemplateTool[] | undefined,
  ) {
    this.messages = agent.withSystemPrompt(opening);
    this.append(agent.encodePrompt(this.messages, tools), 0);
    this.promptLength = this.tokens.length;
  }

  static async start<S>(agent: Agent, environment: Environment<S, unknown>, scenario: S, group: number, member: number): Promise<EpisodeRecorder<S>> {
    const start = await environmentCall(scenario, 'reset', () => environment.reset(scenario));
    return new EpisodeRecorder(agent, environment, scenario, group, member, start.state, start.messages, start.tools);
  }

  get done(): boolean {
    return this.doneReason !== undefined;
  }

  /** The whole sequence so far, the prompt of the next assistant turn. */
  context(): Int32Array {
    return Int32Array.from(this.tokens);
  }

  /**
   * Ends the episode before its next turn (e.g. no room is left in the context). The
   * prompt text appended for that turn is dropped: a trajectory ends at its last sampled
   * token, as it does when the environment ends it. An episode without turns keeps at most
   * `maxTokens` of its prompt, so that a prompt past the context still makes a trajectory
   * the trainer can run (it has no loss tokens).
   */
  end(reason: string, maxTokens = Infinity): void {
    const keep = this.turns.at(-1)?.end ?? Math.min(this.tokens.length, maxTokens);
    for (const column of [this.tokens, this.mask, this.logprobs]) column.length = keep;
    this.promptLength = Math.min(this.promptLength, keep);
    this.doneReason = reason;
  }

  /**
   * Records a sampled turn, lets the environment answer, and appends the answer's tokens.
   * `cutByContext`: the turn was given only the tokens left before the context's end; if
   * it reached them without stopping, its finish reason is 'context' and the episode ends.
   */
  async advance(completion: PolicyCompletion, cutByContext = false): Promise<void> {
    const finishReason = cutByContext && completion.finishReason === 'length' ? 'context' : completion.finishReason;
    const start = this.tokens.length;
    this.append(completion.tokens, 1, completion.logprobs);
    const reply: Message = { role: 'assistant', content: this.agent.decode(completion.tokens) };
    const step = await environmentCall(this.scenario, 'step', () => this.environment.step(this.state, reply));
    const history = this.messages;
    this.state = step.state;
    this.messages = [...history, step.assistant, ...step.messages];
    this.turns.push({
      index: this.turns.length,
      assistant: step.assistant,
      replies: step.messages,
      toolCalls: step.toolCalls,
      finishReason,
      start,
      end: this.tokens.length,
      ...(step.reward === undefined ? {} : { envReward: step.reward }),
    });
    if (step.done || finishReason === 'context') {
      this.doneReason = step.done ? (step.doneReason ?? 'done') : 'context';
      return;
    }
    const stopText = completion.finishReason === 'stop' ? this.agent.policy.detokenize(completion.tokens.subarray(-1)) : undefined;
    const between = textAfterAssistantTurn(this.agent.template, history, step.messages, this.tools, stopText);
    this.append(this.agent.policy.tokenize(between), 0);
  }

  episode(): Episode<Scenario> {
    return { scenario: this.scenario, messages: this.messages, turns: this.turns, doneReason: this.doneReason ?? 'unfinished' };
  }

  private append(ids: ArrayLike<number>, mask: 0 | 1, logprobs?: ArrayLike<number>): void {
    for (let i = 0; i < ids.length; i++) {
      this.tokens.push(ids[i]);
      this.mask.push(mask);
      this.logprobs.push(logprobs ? logprobs[i] : 0);
    }
  }
}

/** Environment code is the user's: its errors are reported with the scenario they came from. */
async function environmentCall<T>(scenario: unknown, what: 'reset' | 'step', call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (cause) {
    if (cause instanceof StatesetError) throw cause;
    const id = (scenario as { id?: unknown })?.id;
    throw new StatesetError('ERR_ENVIRONMENT', `environment.${what} failed${id === undefined ? '' : ` for scenario ${String(id)}`}: ${(cause as Error)?.message ?? String(cause)}`, { cause });
  }
}

/**
 * An Agent: a policy model with its chat template and sampling settings. `respond` gives
 * one reply, `stream` yields its text as it is generated; rollouts use `encodePrompt`,
 * `generate` and `template` directly to keep the sampled token ids.
 */
import { StatesetError } from '../core/errors.js';
import { messagesSchema, type Message } from '../core/messages.js';
import { parseWith } from '../core/validate.js';
import { createBackend } from '../backends/create.js';
import { CHATML_TEMPLATE, ChatTemplate, type TemplateTool } from './chat-template.js';
import { modelSource, parseAgentConfig, parseGenerationOverrides, type AgentConfig, type AgentConfigInput, type GenerationConfig } from './config.js';
import type { Policy, PolicyCompletion } from './policy.js';
import { hermesToolCalls } from './tool-calls.js';

/** Tokens generated per engine call while streaming; each call re-reads the prompt. */
export const STREAM_CHUNK_TOKENS = 16;

export interface RespondOptions {
  generation?: Partial<GenerationConfig>;
  tools?: TemplateTool[];
}

export interface AgentReply {
  message: Message;
  completion: PolicyCompletion;
  promptTokens: number;
}

export class Agent {
  readonly template: ChatTemplate;
  /** The ids that end an assistant turn. */
  readonly stopTokenIds: number[];
  private calls = 0;

  private constructor(
    readonly config: AgentConfig,
    readonly policy: Policy,
  ) {
    const { chatTemplate, bosToken, eosToken, eosTokenIds } = policy.config;
    const source = config.chatTemplate ?? chatTemplate ?? CHATML_TEMPLATE;
    this.template = new ChatTemplate(source, { bosToken, eosToken });
    const stops = new Set([...eosTokenIds, ...config.generation.stopTokenIds]);
    // A model without a template of its own ends ChatML turns with <|im_end|>, when it has that token.
    if (source === CHATML_TEMPLATE) {
      const imEnd = policy.tokenize('<|im_end|>');
      if (imEnd.length === 1) stops.add(imEnd[0]);
    }
    this.stopTokenIds = [...stops];
  }

  /**
   * Validates the config and loads `config.model`, with fresh LoRA adapters (seeded by
   * `loraSeed`, default 0) when the config has `lora`. Pass `policy` to use a model that is
   * already loaded instead (e.g. one model shared by several agents).
   */
  static async create(config: AgentConfigInput, options: { policy?: Policy; loraSeed?: number } = {}): Promise<Agent> {
    const parsed = parseAgentConfig(config);
    const lora = parsed.lora && { rank: parsed.lora.rank, alpha: parsed.lora.alpha, targetModules: parsed.lora.targetModules, seed: options.loraSeed ?? 0 };
    return new Agent(parsed, options.policy ?? (await createBackend(parsed, lora)));
  }

  /** The conversation with the configured system prompt first, unless it has one. */
  withSystemPrompt(messages: Message[]): Message[] {
    const prompt = this.config.systemPrompt;
    if (prompt === undefined || messages[0]?.role === 'system') return messages;
    return [{ role: 'system', content: prompt }, ...messages];
  }

  /** Token ids of the conversation followed by the assistant header. */
  encodePrompt(messages: Message[], tools?: TemplateTool[]): Int32Array {
    return this.policy.tokenize(this.renderPrompt(messages, tools));
  }

  /**
   * `encodePrompt` with the tokenizing off the event loop when the policy can do that: a
   * long conversation (e.g. a large request to the server) takes about 1.5 s per MiB.
   */
  async encodePromptAsync(messages: Message[], tools?: TemplateTool[]): Promise<Int32Array> {
    const text = this.renderPrompt(messages, tools);
    return this.policy.tokenizeAsync ? this.policy.tokenizeAsync(text) : this.policy.tokenize(text);
  }

  private renderPrompt(messages: Message[], tools?: TemplateTool[]): string {
    return this.template.render(this.withSystemPrompt(messages), { addGenerationPrompt: true, tools });
  }

  /** Sampling settings of the next call: the config with the next seed, then `overrides`. */
  generationFor(overrides?: Partial<GenerationConfig>): GenerationConfig {
    const given = parseGenerationOverrides(overrides);
    return { ...this.config.generation, seed: this.config.generation.seed + this.calls++, ...given };
  }

  /**
   * One batched engine call; every prompt stops at the agent's stop ids. `seeds`: one per
   * prompt, in place of `generation.seed` (see PolicyGenerateOptions.seeds).
   */
  async generate(prompts: Int32Array[], generation: GenerationConfig, seeds?: number[]): Promise<PolicyCompletion[]> {
    return this.policy.generate(prompts, { ...generation, stopTokenIds: this.stopTokenIds, ...(seeds ? { seeds } : {}) });
  }

  /** The text of sampled ids, without the stop token that ended them. */
  decode(tokens: Int32Array): string {
    const last = tokens[tokens.length - 1];
    const body = tokens.length > 0 && this.stopTokenIds.includes(last) ? tokens.subarray(0, -1) : tokens;
    return this.policy.detokenize(body);
  }

  /** The assistant message for a decoded reply, with any tool calls it wrote. */
  toAssistantMessage(content: string): Message {
    const { calls } = hermesToolCalls.parse(content);
    return calls.length ? { role: 'assistant', content, toolCalls: calls } : { role: 'assistant', content };
  }

  /** One reply with its token-level details (ids, log-probs, finish reason). */
  async reply(messages: Message[], options: RespondOptions = {}): Promise<AgentReply> {
    const prompt = await this.encodePromptAsync(checkMessages(messages), options.tools);
    const [completion] = await this.generate([prompt], this.generationFor(options.generation));
    return { message: this.toAssistantMessage(this.decode(completion.tokens)), completion, promptTokens: prompt.length };
  }

  async respond(messages: Message[], options: RespondOptions = {}): Promise<Message> {
    return (await this.reply(messages, options)).message;
  }

  /**
   * The reply's text, piece by piece. Generation runs in chunks of STREAM_CHUNK_TOKENS;
   * a piece is held back while it ends inside a multi-byte character. The generator's
   * return value is the finish reason. Whatever `reply` would reject (messages, settings,
   * a prompt that leaves no room for maxNewTokens) rejects the first `next()`, before
   * any text.
   */
  async *stream(messages: Message[], options: RespondOptions = {}): AsyncGenerator<string, 'stop' | 'length'> {
    const generation = this.generationFor(options.generation);
    let context = await this.encodePromptAsync(checkMessages(messages), options.tools);
    // Each engine call below asks for STREAM_CHUNK_TOKENS only, so the engine's own check
    // of prompt + maxNewTokens against the context would pass and the stream fail midway.
    checkRoomFor(generation.maxNewTokens, context.length, this.policy.config.maxPositionEmbeddings);
    const produced: number[] = [];
    let shown = '';
    for (let chunk = 0; produced.length < generation.maxNewTokens; chunk++) {
      const maxNewTokens = Math.min(STREAM_CHUNK_TOKENS, generation.maxNewTokens - produced.length);
      const [completion] = await this.generate([context], { ...generation, maxNewTokens, seed: chunkSeed(generation.seed, chunk) });
      produced.push(...completion.tokens);
      context = concatIds(context, completion.tokens);
      const done = completion.finishReason === 'stop';
      const text = this.decode(Int32Array.from(produced));
      const settled = done || !text.endsWith('\uFFFD') ? text : text.slice(0, -1);
      if (settled.startsWith(shown) && settled.length > shown.length) {
        yield settled.slice(shown.length);
        shown = settled;
      }
      if (done) return 'stop';
    }
    return 'length';
  }
}

export function concatIds(a: Int32Array, b: ArrayLike<number>): Int32Array {
  const out = new Int32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** The engine's check of a prompt and the tokens asked for against the context, in its words. */
function checkRoomFor(maxNewTokens: number, promptTokens: number, positions: number | undefined): void {
  if (positions === undefined || promptTokens + maxNewTokens <= positions) return;
  throw new StatesetError(
    'ERR_INVALID_PARAMETER',
    `the prompt (${promptTokens} tokens) plus maxNewTokens (${maxNewTokens}) exceeds the model's ${positions} positions; shorten the prompt or lower maxNewTokens`,
  );
}

/** seed + chunk, wrapped within the engine's seeds [0, 2^53 - 1]: a caller may give the largest. */
function chunkSeed(seed: number, chunk: number): number {
  return seed <= Number.MAX_SAFE_INTEGER - chunk ? seed + chunk : seed - (Number.MAX_SAFE_INTEGER + 1 - chunk);
}

function checkMessages(messages: Message[]): Message[] {
  const checked = parseWith(messagesSchema, messages, 'ERR_INVALID_MESSAGES', 'messages');
  if (checked.length === 0) throw new StatesetError('ERR_INVALID_MESSAGES', 'messages is empty: give at least one user message.');
  return checked as Message[];
}

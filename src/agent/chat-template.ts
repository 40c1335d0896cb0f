/**
 * Chat templates: a model's own jinja template rendered with @huggingface/jinja, the
 * same variables HuggingFace passes (messages, add_generation_prompt, bos/eos tokens,
 * tools). Models without a template (GPT-2 style) get CHATML_TEMPLATE.
 */
import { Template } from '@huggingface/jinja';
import { StatesetError } from '../core/errors.js';
import type { Message } from '../core/messages.js';

/**
 * The default template, ChatML:
 *   <|im_start|>{role}\n{content}<|im_end|>\n   for every message, then
 *   <|im_start|>assistant\n                     when a reply is to be generated.
 */
export const CHATML_TEMPLATE =
  "{%- for message in messages %}{{ '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}{%- endfor %}" +
  "{%- if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{%- endif %}";

/** A tool as chat templates expect it (OpenAI function format, JSON-schema parameters). */
export interface TemplateTool {
  type: 'function';
  function: { name: string; description: string; parameters: Record<string, unknown> };
}

export interface RenderOptions {
  addGenerationPrompt: boolean;
  tools?: TemplateTool[];
}

export class ChatTemplate {
  private readonly template: Template;
  /** Whether the template renders `tools` itself; if not, they go into the system message. */
  readonly rendersTools: boolean;

  constructor(
    readonly source: string,
    private readonly specialTokens: { bosToken?: string; eosToken?: string } = {},
  ) {
    try {
      this.template = new Template(source);
    } catch (cause) {
      throw new StatesetError('ERR_CHAT_TEMPLATE', `the chat template does not parse: ${(cause as Error).message}. Fix it or pass another with AgentConfig.chatTemplate.`, { cause });
    }
    this.rendersTools = /\btools\b/.test(source);
  }

  render(messages: Message[], options: RenderOptions): string {
    const tools = options.tools?.length ? options.tools : undefined;
    const shown = tools && !this.rendersTools ? withToolsInSystemMessage(messages, tools) : messages;
    try {
      return this.template.render({
        messages: shown.map(toTemplateMessage),
        add_generation_prompt: options.addGenerationPrompt,
        bos_token: this.specialTokens.bosToken ?? '',
        eos_token: this.specialTokens.eosToken ?? '',
        ...(tools && this.rendersTools ? { tools } : {}),
      });
    } catch (cause) {
      throw new StatesetError('ERR_CHAT_TEMPLATE', `the chat template failed to render ${messages.length} messages: ${(cause as Error).message}`, { cause });
    }
  }
}

/** HuggingFace's message shape: snake_case, arguments as objects. */
function toTemplateMessage(message: Message): Record<string, unknown> {
  const out: Record<string, unknown> = { role: message.role, content: message.content };
  if (message.toolCalls?.length) {
    out.tool_calls = message.toolCalls.map((call) => ({
      id: call.id,
      type: 'function',
      function: { name: call.name, arguments: call.arguments },
    }));
  }
  if (message.toolCallId !== undefined) out.tool_call_id = message.toolCallId;
  if (message.name !== undefined) out.name = message.name;
  return out;
}

/** Describes the tools and the Hermes call format in the system message. */
function withToolsInSystemMessage(messages: Message[], tools: TemplateTool[]): Message[] {
  const description =
    'You can call these tools:\n<tools>\n' +
    tools.map((t) => JSON.stringify(t.function)).join('\n') +
    '\n</tools>\nTo call one, write <tool_call>{"name": "<tool name>", "arguments": {<arguments as JSON>}}</tool_call>.';
  if (messages[0]?.role === 'system') {
    return [{ ...messages[0], content: `${messages[0].content}\n\n${description}` }, ...messages.slice(1)];
  }
  return [{ role: 'system', content: description }, ...messages];
}

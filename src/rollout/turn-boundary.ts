/**
 * The text the chat template puts after an assistant turn: the turn's closing, the
 * user's or tools' messages, and the next assistant header. Rollouts tokenize only this
 * text and append it to the sampled ids (ALGORITHMS.md section 5), so the policy's own
 * tokens are never decoded and re-encoded.
 */
import type { ChatTemplate, TemplateTool } from '../agent/chat-template.js';
import { StatesetError } from '../core/errors.js';
import type { Message } from '../core/messages.js';

// Stands in for the sampled text: the template renders it where the assistant's content goes.
const SAMPLED_TEXT = '\u0000sampled-assistant-turn\u0000';

/**
 * `history`: the conversation before the assistant turn; `replies`: what came after it.
 * `stopText`: the text of the stop token the policy sampled, if it stopped; the template's
 * own copy of it is dropped, since the sampled one is already in the sequence.
 */
export function textAfterAssistantTurn(
  template: ChatTemplate,
  history: Message[],
  replies: Message[],
  tools: TemplateTool[] | undefined,
  stopText: string | undefined,
): string {
  const rendered = template.render([...history, { role: 'assistant', content: SAMPLED_TEXT }, ...replies], { addGenerationPrompt: true, tools });
  const at = rendered.lastIndexOf(SAMPLED_TEXT);
  if (at < 0) {
    throw new StatesetError('ERR_CHAT_TEMPLATE', 'the chat template does not render the content of assistant messages, so a multi-turn conversation cannot be continued token by token: use a template that does (AgentConfig.chatTemplate).');
  }
  const after = rendered.slice(at + SAMPLED_TEXT.length);
  return stopText && after.startsWith(stopText) ? after.slice(stopText.length) : after;
}

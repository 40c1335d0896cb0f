// Chat templates (ChatML default, tools, errors), the text between turns that rollouts
// tokenize, and AgentConfig validation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChatTemplate, CHATML_TEMPLATE, parseAgentConfig, StatesetError, type Message, type TemplateTool } from '../src/index.js';
import { textAfterAssistantTurn } from '../src/rollout/turn-boundary.js';

const chatml = new ChatTemplate(CHATML_TEMPLATE);
const conversation: Message[] = [
  { role: 'system', content: 'Be brief.' },
  { role: 'user', content: 'Hi' },
];

test('the default ChatML template renders messages and the generation prompt', () => {
  assert.equal(
    chatml.render(conversation, { addGenerationPrompt: true }),
    '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n',
  );
  assert.equal(chatml.render([{ role: 'user', content: 'Hi' }], { addGenerationPrompt: false }), '<|im_start|>user\nHi<|im_end|>\n');
});

const lookup: TemplateTool = { type: 'function', function: { name: 'lookup', description: 'Find an order', parameters: { type: 'object', properties: {} } } };

test('tools go into the system message when the template cannot render them', () => {
  const text = chatml.render(conversation, { addGenerationPrompt: true, tools: [lookup] });
  assert.match(text, /^<\|im_start\|>system\nBe brief\.\n\nYou can call these tools:\n<tools>\n\{"name":"lookup"/);
  assert.match(text, /<tool_call>\{"name": "<tool name>"/);
  const noSystem = chatml.render([{ role: 'user', content: 'Hi' }], { addGenerationPrompt: false, tools: [lookup] });
  assert.match(noSystem, /^<\|im_start\|>system\nYou can call these tools/);
});

test('templates that render tools get them, with tool calls and tool messages in HF shape', () => {
  const source =
    '{% for t in tools %}[tool {{ t.function.name }}]{% endfor %}' +
    '{% for m in messages %}{{ m.role }}:{{ m.content }}{% if m.tool_calls %}{% for c in m.tool_calls %}<call {{ c.function.name }} {{ c.function.arguments | tojson }}>{% endfor %}{% endif %}{% if m.tool_call_id %}({{ m.tool_call_id }}){% endif %}|{% endfor %}';
  const template = new ChatTemplate(source);
  assert.equal(template.rendersTools, true);
  const text = template.render(
    [
      { role: 'assistant', content: '', toolCalls: [{ id: 'c1', name: 'lookup', arguments: { id: 'A1' } }] },
      { role: 'tool', content: 'shipped', toolCallId: 'c1' },
    ],
    { addGenerationPrompt: false, tools: [lookup] },
  );
  assert.equal(text, '[tool lookup]assistant:<call lookup {"id": "A1"}>|tool:shipped(c1)|');
});

test('template errors are ERR_CHAT_TEMPLATE', () => {
  const isTemplateError = (message: RegExp) => (e: unknown) => e instanceof StatesetError && e.code === 'ERR_CHAT_TEMPLATE' && message.test(e.message);
  assert.throws(() => new ChatTemplate('{% for m in messages %}'), isTemplateError(/does not parse/));
  const strict = new ChatTemplate("{{ raise_exception('roles must alternate') }}");
  assert.throws(() => strict.render(conversation, { addGenerationPrompt: true }), isTemplateError(/roles must alternate/));
});

test('the text after an assistant turn: closing, replies, next header; the sampled stop token is not repeated', () => {
  const replies: Message[] = [{ role: 'user', content: 'Thanks' }];
  assert.equal(textAfterAssistantTurn(chatml, conversation, replies, undefined, '<|im_end|>'), '\n<|im_start|>user\nThanks<|im_end|>\n<|im_start|>assistant\n');
  // cut off by the length limit: the template closes the turn itself
  assert.equal(textAfterAssistantTurn(chatml, conversation, replies, undefined, undefined), '<|im_end|>\n<|im_start|>user\nThanks<|im_end|>\n<|im_start|>assistant\n');
  // a template that trims content still places it
  const trimming = new ChatTemplate("{% for m in messages %}<{{ m.role }}>{{ m.content | trim }}</s>{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}");
  assert.equal(textAfterAssistantTurn(trimming, conversation, replies, undefined, '</s>'), '<user>Thanks</s><assistant>');
  const dropsContent = new ChatTemplate('{% for m in messages %}{{ m.role }}{% endfor %}');
  assert.throws(() => textAfterAssistantTurn(dropsContent, conversation, replies, undefined, undefined), (e: unknown) => e instanceof StatesetError && e.code === 'ERR_CHAT_TEMPLATE');
});

test('AgentConfig fills defaults and names every bad field', () => {
  const config = parseAgentConfig({ model: './m', generation: { temperature: 0.7 }, lora: { rank: 4 } });
  assert.equal(config.generation.temperature, 0.7);
  assert.equal(config.generation.maxNewTokens, 256);
  assert.equal(config.generation.topP, 1);
  assert.deepEqual(config.lora, { rank: 4, alpha: 16, dropout: 0, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'] });
  assert.equal(parseAgentConfig({ model: './m' }).lora, undefined);
  assert.throws(
    () => parseAgentConfig({ model: '', generation: { topP: 2, temprature: 1 } }),
    (e: unknown) =>
      e instanceof StatesetError &&
      e.code === 'ERR_INVALID_CONFIG' &&
      /AgentConfig\.model/.test(e.message) &&
      /AgentConfig\.generation\.topP/.test(e.message) &&
      /temprature/.test(e.message),
  );
});

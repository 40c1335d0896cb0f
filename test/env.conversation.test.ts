// ConversationEnvironment driven by hand-written assistant messages: scripted users,
// stop conditions, tools and the per-turn tool-call limit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { ConversationEnvironment, tool, StatesetError, type ConversationScenario, type Message } from '../src/index.js';

const say = (content: string): Message => ({ role: 'assistant', content });
const scenario: ConversationScenario = { id: 's1', context: 'Order A1 shipped on Monday.', userTurns: ['Where is my order?', 'Thanks, and when will it arrive?', 'Great.'] };

test('a scripted user speaks its lines in order, and the episode ends when they run out', async () => {
  const env = new ConversationEnvironment({ systemPrompt: 'You are a support agent.', maxTurns: 10 });
  const start = await env.reset(scenario);
  assert.deepEqual(start.messages, [
    { role: 'system', content: 'You are a support agent.\n\nOrder A1 shipped on Monday.' },
    { role: 'user', content: 'Where is my order?' },
  ]);
  let step = await env.step(start.state, say('It shipped Monday.'));
  assert.deepEqual(step.messages, [{ role: 'user', content: 'Thanks, and when will it arrive?' }]);
  assert.equal(step.done, false);
  step = await env.step(step.state, say('Wednesday.'));
  step = await env.step(step.state, say('Anything else?'));
  assert.equal(step.done, true);
  assert.equal(step.doneReason, 'user_done');
  assert.deepEqual(step.messages, []);
  assert.equal(step.state.messages.length, 2 + 5);
});

test('maxTurns and stopWhen end the episode after an assistant reply', async () => {
  const short = new ConversationEnvironment({ maxTurns: 1 });
  const first = await short.reset(scenario);
  const ended = await short.step(first.state, say('Shipped.'));
  assert.deepEqual([ended.done, ended.doneReason], [true, 'max_turns']);

  const polite = new ConversationEnvironment({ maxTurns: 5, stopWhen: ({ messages }) => (messages.at(-1)!.content.includes('goodbye') ? 'said_goodbye' : false) });
  const s = await polite.reset(scenario);
  const going = await polite.step(s.state, say('Hello'));
  assert.equal(going.done, false);
  const bye = await polite.step(going.state, say('Have a nice day, goodbye!'));
  assert.deepEqual([bye.done, bye.doneReason], [true, 'said_goodbye']);
});

test('a scenario without a first user line is an ERR_ENVIRONMENT error', async () => {
  const env = new ConversationEnvironment();
  await assert.rejects(env.reset({ id: 'empty' }), (e: unknown) => e instanceof StatesetError && e.code === 'ERR_ENVIRONMENT' && /empty has no first user message/.test(e.message));
});

test('invalid options are refused', () => {
  assert.throws(() => new ConversationEnvironment({ maxTurns: 0 }), (e: unknown) => e instanceof StatesetError && e.code === 'ERR_INVALID_CONFIG' && /maxTurns must be a positive integer/.test(e.message));
});

const calls: string[] = [];
const lookup = tool({
  name: 'lookup_order',
  description: 'Find an order',
  parameters: z.object({ id: z.string() }),
  execute: ({ id }) => {
    calls.push(id);
    return id === 'A1' ? 'shipped Monday' : 'no such order';
  },
});

test('tool calls are parsed, run, and answered with tool messages; the user waits', async () => {
  const env = new ConversationEnvironment({ tools: [lookup], maxToolCallsPerTurn: 2 });
  const start = await env.reset(scenario);
  assert.equal(start.tools![0].function.name, 'lookup_order');

  const step = await env.step(start.state, say('<tool_call>{"name": "lookup_order", "arguments": {"id": "A1"}}</tool_call>'));
  assert.equal(step.done, false);
  assert.deepEqual(step.assistant.toolCalls, [{ id: 'call_1_0', name: 'lookup_order', arguments: { id: 'A1' } }]);
  assert.deepEqual(step.messages, [{ role: 'tool', content: 'shipped Monday', toolCallId: 'call_1_0', name: 'lookup_order' }]);
  assert.deepEqual(step.toolCalls, [{ name: 'lookup_order', ok: true }]);
  assert.equal(step.state.assistantTurns, 0, 'a tool round is not a reply to the user');

  const answered = await env.step(step.state, say('It shipped Monday.'));
  assert.deepEqual(answered.messages, [{ role: 'user', content: 'Thanks, and when will it arrive?' }]);
});

test('malformed calls and calls over the per-turn limit get error messages, not crashes', async () => {
  calls.length = 0;
  const env = new ConversationEnvironment({ tools: [lookup], maxToolCallsPerTurn: 2 });
  const start = await env.reset(scenario);
  const call = (id: string) => `<tool_call>{"name": "lookup_order", "arguments": {"id": "${id}"}}</tool_call>`;
  const step = await env.step(start.state, say(`${call('A1')}${call('B2')}${call('C3')}<tool_call>{"name": oops}</tool_call>`));
  assert.deepEqual(calls, ['A1', 'B2'], 'the third call is over the limit and does not run');
  assert.equal(step.messages.length, 4);
  assert.match(step.messages[0].content, /^Error: the tool call is not valid JSON/);
  assert.match(step.messages[3].content, /tool call limit reached \(2 per turn\)/);
  assert.deepEqual(step.toolCalls.map((c) => c.ok), [false, true, true, false]);

  const overLimit = await env.step(step.state, say(call('A1')));
  assert.match(overLimit.messages[0].content, /limit reached/, 'the limit holds until the user speaks again');

  const unknown = await env.step(start.state, say('<tool_call>{"name": "cancel_order", "arguments": {}}</tool_call>'));
  assert.match(unknown.messages[0].content, /unknown tool "cancel_order"/);
});

test('a model that keeps calling tools is stopped (max_steps)', async () => {
  const env = new ConversationEnvironment({ tools: [lookup], maxTurns: 1, maxToolCallsPerTurn: 1 });
  let { state } = await env.reset(scenario);
  const looping = say('<tool_call>{"name": "lookup_order", "arguments": {"id": "A1"}}</tool_call>');
  const first = await env.step(state, looping);
  assert.equal(first.done, false);
  const second = await env.step(first.state, looping);
  assert.deepEqual([second.done, second.doneReason], [true, 'max_steps']);
});

test('without tools, tool-call text is just text', async () => {
  const env = new ConversationEnvironment({ maxTurns: 3 });
  const start = await env.reset(scenario);
  const step = await env.step(start.state, say('<tool_call>{"name": "x"}</tool_call>'));
  assert.equal(step.assistant.toolCalls, undefined);
  assert.equal(step.messages[0].role, 'user');
});

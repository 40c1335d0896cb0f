// Tool calls: parsing the Hermes format (malformed ones included) and running calls safely.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { hermesToolCalls, runToolCall, tool, describeTool, StatesetError } from '../src/index.js';

test('parses one or several Hermes tool calls with their arguments', () => {
  const text = 'Let me check.\n<tool_call>\n{"name": "lookup_order", "arguments": {"id": "A1"}}\n</tool_call>\n<tool_call>{"name":"refund","arguments":{"amount":5}}</tool_call>';
  const { calls, errors } = hermesToolCalls.parse(text, 'call_3');
  assert.deepEqual(errors, []);
  assert.deepEqual(calls, [
    { id: 'call_3_0', name: 'lookup_order', arguments: { id: 'A1' } },
    { id: 'call_3_1', name: 'refund', arguments: { amount: 5 } },
  ]);
});

test('a call missing its closing tag at the end of the text is still read', () => {
  const { calls } = hermesToolCalls.parse('<tool_call>{"name": "ping", "arguments": {}}');
  assert.deepEqual(calls.map((c) => c.name), ['ping']);
});

test('malformed calls become errors, and the valid ones beside them still parse', () => {
  const text = [
    '<tool_call>{"name": "a", "arguments": {"x": 1</tool_call>', // broken JSON
    '<tool_call>["not", "an", "object"]</tool_call>',
    '<tool_call>{"arguments": {}}</tool_call>', // no name
    '<tool_call>{"name": "b", "arguments": "x=1"}</tool_call>', // arguments not an object
    '<tool_call>{"name": "ok"}</tool_call>', // arguments default to {}
  ].join('\n');
  const { calls, errors } = hermesToolCalls.parse(text);
  assert.deepEqual(calls, [{ id: 'call_4', name: 'ok', arguments: {} }]);
  assert.equal(errors.length, 4);
  assert.match(errors[0].reason, /not valid JSON/);
  assert.match(errors[1].reason, /JSON object/);
  assert.match(errors[2].reason, /no "name"/);
  assert.match(errors[3].reason, /"arguments" of b must be a JSON object/);
});

test('text without tool calls parses to nothing', () => {
  assert.deepEqual(hermesToolCalls.parse('Your order ships tomorrow.'), { calls: [], errors: [] });
});

const lookup = tool({
  name: 'lookup_order',
  description: 'Find an order by id',
  parameters: z.object({ id: z.string().describe('order id') }),
  execute: ({ id }) => ({ id, status: 'shipped' }),
});
const tools = new Map([
  [lookup.name, lookup],
  ['explode', tool({ name: 'explode', description: 'always fails', parameters: z.object({}), execute: () => { throw new Error('database down'); } })],
  ['hang', tool({ name: 'hang', description: 'never answers', parameters: z.object({}), timeoutMs: 30, execute: () => new Promise(() => {}) })],
]);

test('a valid call runs and its result goes back as JSON in a tool message', async () => {
  const out = await runToolCall(tools, { id: 'c1', name: 'lookup_order', arguments: { id: 'A1' } });
  assert.equal(out.ok, true);
  assert.deepEqual(out.message, { role: 'tool', content: '{"id":"A1","status":"shipped"}', toolCallId: 'c1', name: 'lookup_order' });
});

test('unknown tools, schema violations, throwing and hanging tools become error messages', async () => {
  const unknown = await runToolCall(tools, { id: 'c', name: 'cancel', arguments: {} });
  assert.equal(unknown.ok, false);
  assert.match(unknown.message.content, /^Error: unknown tool "cancel"; the tools are: lookup_order, explode, hang/);

  const badArgs = await runToolCall(tools, { id: 'c', name: 'lookup_order', arguments: { id: 7 } });
  assert.equal(badArgs.ok, false);
  assert.match(badArgs.message.content, /invalid arguments for lookup_order: id: /);

  const thrown = await runToolCall(tools, { id: 'c', name: 'explode', arguments: {} });
  assert.match(thrown.message.content, /explode failed: database down/);

  const hung = await runToolCall(tools, { id: 'c', name: 'hang', arguments: {} });
  assert.equal(hung.ok, false);
  assert.match(hung.error!, /timed out after 30 ms/);
});

test('tools are described as JSON schema for templates', () => {
  assert.deepEqual(describeTool(lookup), {
    type: 'function',
    function: {
      name: 'lookup_order',
      description: 'Find an order by id',
      parameters: { type: 'object', properties: { id: { type: 'string', description: 'order id' } }, required: ['id'], additionalProperties: false },
    },
  });
});

test('bad tool definitions are refused with ERR_INVALID_TOOL', () => {
  const bad = (def: unknown, message: RegExp) =>
    assert.throws(() => tool(def as never), (e: unknown) => e instanceof StatesetError && e.code === 'ERR_INVALID_TOOL' && message.test(e.message));
  bad({ name: 'has space', description: '', parameters: z.object({}), execute: () => 1 }, /not valid/);
  bad({ name: 'x', description: '', parameters: { type: 'object' }, execute: () => 1 }, /zod schema/);
  bad({ name: 'x', description: '', parameters: z.object({}) }, /execute must be a function/);
});

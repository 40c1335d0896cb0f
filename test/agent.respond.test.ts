// Agent.respond and Agent.stream on a real tiny model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, CHATML_TEMPLATE, randomModel, StatesetError, STREAM_CHUNK_TOKENS, type Model } from '../src/index.js';
import { tinyAgent, tinyModelDir } from './helpers/tiny-agent.js';

const question = [{ role: 'user' as const, content: 'Where is my order?' }];

test('respond gives an assistant message; the same seed gives the same reply', async () => {
  const agent = await tinyAgent('llama', { generation: { maxNewTokens: 10, seed: 3 } });
  const reply = await agent.reply(question);
  assert.equal(reply.message.role, 'assistant');
  assert.equal(reply.message.content, agent.decode(reply.completion.tokens));
  assert.equal(reply.promptTokens, agent.encodePrompt(question).length);
  assert.ok(reply.completion.tokens.length <= 10);
  const again = await agent.respond(question, { generation: { seed: 99 } });
  const same = await agent.respond(question, { generation: { seed: 99 } });
  assert.equal(again.content, same.content);
});

test('the ChatML end-of-turn token stops generation; the system prompt is put first', async () => {
  const agent = await tinyAgent('gpt2', { systemPrompt: 'Be brief.' });
  assert.ok(agent.stopTokenIds.includes(agent.policy.tokenize('<|im_end|>')[0]));
  const text = agent.template.render(agent.withSystemPrompt(question), { addGenerationPrompt: true });
  assert.equal(text, '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhere is my order?<|im_end|>\n<|im_start|>assistant\n');
});

test('a model without a chat template or end-of-sequence ids gets ChatML and stops at <|im_end|>', async () => {
  const vocabSize = ((await tinyAgent('gpt2')).policy as Model).config.vocabSize; // randomModel uses the tiny tokenizer
  const model = await randomModel({ model_type: 'gpt2', n_embd: 32, n_layer: 1, n_head: 2, vocab_size: vocabSize, n_positions: 256 });
  assert.equal(model.config.chatTemplate, undefined);
  const agent = await Agent.create({ model: 'random-gpt2', generation: { maxNewTokens: 4 } }, { policy: model });
  assert.equal(agent.template.source, CHATML_TEMPLATE);
  assert.deepEqual(agent.stopTokenIds, [...model.tokenize('<|im_end|>')]);
  assert.equal((await agent.respond(question)).role, 'assistant');
});

test('stream yields the reply piece by piece; greedy streaming equals one greedy reply', async () => {
  const maxNewTokens = 2 * STREAM_CHUNK_TOKENS + 5;
  const agent = await tinyAgent('llama', { generation: { maxNewTokens, temperature: 0 } });
  const pieces: string[] = [];
  const stream = agent.stream(question);
  let next = await stream.next();
  for (; !next.done; next = await stream.next()) pieces.push(next.value);
  const whole = await agent.reply(question);
  assert.equal(pieces.join(''), whole.message.content);
  assert.equal(next.value, whole.completion.finishReason);
  if (whole.completion.finishReason === 'length') assert.ok(pieces.length >= 2, 'several chunks were generated');
});

test('bad messages and configs are StatesetErrors', async () => {
  const agent = await tinyAgent('llama');
  const code = (c: string, m: RegExp) => (e: unknown) => e instanceof StatesetError && e.code === c && m.test(e.message);
  await assert.rejects(agent.respond([]), code('ERR_INVALID_MESSAGES', /empty/));
  await assert.rejects(agent.respond([{ role: 'robot', content: 'x' } as never]), code('ERR_INVALID_MESSAGES', /messages\.0\.role/));
  await assert.rejects(agent.respond(question, { generation: { temperature: -1 } }), code('ERR_INVALID_CONFIG', /generation\.temperature/));
  await assert.rejects(Agent.create({ model: tinyModelDir(), generation: { maxNewTokens: 0 } }), code('ERR_INVALID_CONFIG', /maxNewTokens/));
  await assert.rejects(Agent.create({ model: '/no/such/model' }), (e: unknown) => e instanceof StatesetError);
});

// The OpenAI-compatible server on loopback, serving a tiny model, and the project's
// clients of such endpoints: openAIChat, the simulated user and the LLM judge.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import {
  combineRewards,
  collectRollouts,
  ConversationEnvironment,
  llmJudge,
  openAIChat,
  serveOpenAI,
  simulatedUser,
  StatesetError,
  type ChatBackend,
} from '../src/index.js';
import { episodeOf } from './helpers/episodes.js';
import { tinyAgent } from './helpers/tiny-agent.js';

const agent = await tinyAgent('llama', { generation: { maxNewTokens: 12 } });
const server = await serveOpenAI(agent, { port: 0, modelName: 'tiny' });
after(() => server.close());
const client = new OpenAI({ baseURL: server.baseURL, apiKey: 'unused' });

test('chat completions: OpenAI response shape, usage, same seed same answer', async () => {
  const request = { model: 'tiny', messages: [{ role: 'user' as const, content: 'Hello' }], max_tokens: 6, seed: 5 };
  const first = await client.chat.completions.create(request);
  assert.equal(first.object, 'chat.completion');
  assert.equal(first.model, 'tiny');
  assert.equal(first.choices[0].message.role, 'assistant');
  assert.ok(['stop', 'length'].includes(first.choices[0].finish_reason));
  assert.ok(first.usage!.completion_tokens <= 6);
  assert.equal(first.usage!.total_tokens, first.usage!.prompt_tokens + first.usage!.completion_tokens);
  const second = await client.chat.completions.create(request);
  assert.equal(second.choices[0].message.content, first.choices[0].message.content);
  const models = await client.models.list();
  assert.deepEqual(models.data.map((m) => m.id), ['tiny']);
});

test('streamed completions arrive as chunks and end with a finish reason', async () => {
  const stream = await client.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 20, stream: true, temperature: 0 });
  let text = '';
  let finish: string | null = null;
  for await (const chunk of stream) {
    text += chunk.choices[0].delta.content ?? '';
    finish = chunk.choices[0].finish_reason ?? finish;
  }
  const whole = await client.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 20, temperature: 0 });
  assert.equal(text, whole.choices[0].message.content);
  assert.equal(finish, whole.choices[0].finish_reason);
});

test('bad requests get 400 with the project error code', async () => {
  const post = (body: string) => fetch(`${server.baseURL}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const missing = await post(JSON.stringify({ model: 'tiny' }));
  assert.equal(missing.status, 400);
  const error = (await missing.json()) as { error: { code: string; message: string; type: string } };
  assert.equal(error.error.code, 'ERR_INVALID_ARGUMENT');
  assert.match(error.error.message, /request\.messages/);
  assert.equal(error.error.type, 'invalid_request_error');
  const notJson = await post('{');
  assert.equal(notJson.status, 400);
  const badTemperature = await post(JSON.stringify({ messages: [{ role: 'user', content: 'x' }], temperature: 5 }));
  assert.match(((await badTemperature.json()) as { error: { message: string } }).error.message, /temperature/);
});

test('openAIChat talks to the server; an unreachable endpoint is ERR_ENDPOINT', async () => {
  const chat = openAIChat({ baseURL: server.baseURL, model: 'tiny' });
  assert.equal(typeof (await chat.complete([{ role: 'user', content: 'Hi' }], { maxTokens: 4 })), 'string');
  const closed = openAIChat({ baseURL: 'http://127.0.0.1:9/v1', model: 'tiny', maxRetries: 0, timeoutMs: 2000 });
  await assert.rejects(closed.complete([{ role: 'user', content: 'Hi' }]), (e: unknown) => e instanceof StatesetError && e.code === 'ERR_ENDPOINT');
});

test('a simulated user played by the served model through the OpenAI endpoint', async () => {
  const user = simulatedUser({ chat: openAIChat({ baseURL: server.baseURL, model: 'tiny' }), maxTokens: 8 });
  const env = new ConversationEnvironment({ user, maxTurns: 2 });
  const scenario = { id: 'sim', persona: 'A customer whose parcel is late.' };
  const batch = await collectRollouts(agent, env, [scenario], { groupSize: 2 });
  for (const t of batch.trajectories) {
    const users = t.messages.filter((m) => m.role === 'user');
    assert.ok(users.length >= 1, 'the simulated user opened the conversation');
    users.forEach((m) => assert.ok(m.content.length > 0 && !m.content.includes('[END]')));
    assert.ok(['max_turns', 'user_done'].includes(t.doneReason));
  }
});

test('llmJudge: a reply without a score is retried, then counted as a failure', async () => {
  // The tiny model writes random text: no "Score: N" in it.
  const judge = llmJudge({ chat: openAIChat({ baseURL: server.baseURL, model: 'tiny' }), rubric: 'Is the answer helpful?', retries: 1, maxTokens: 6 });
  const lines: string[] = [];
  const rewards = combineRewards([judge], { log: (l) => lines.push(l) });
  const episode = { scenario: {}, messages: [{ role: 'user' as const, content: 'Hi' }, { role: 'assistant' as const, content: 'Hello!' }], turns: [], doneReason: 'max_turns' };
  const scored = await rewards.scoreGroup([episode]);
  assert.ok(Number.isNaN(scored.rewards[0]));
  assert.equal(rewards.stats().llm_judge.failures.error, 1);
  assert.match(lines[0], /no score after 2 attempts/);
});

test('llmJudge: the score is read from the reply and rescaled to [0, 1]; out-of-range scores are retried', async () => {
  // A rule-based grader behind the ChatBackend interface: it reads the transcript the judge sends.
  let rudeAttempts = 0;
  const grader: ChatBackend = {
    complete: async (messages) => {
      if (messages[1].content.includes('[assistant] Thank you')) return 'Polite. Score: 8';
      return ++rudeAttempts === 1 ? 'Score: 42' : 'Rude. Score: 2';
    },
  };
  const rewards = combineRewards([llmJudge({ chat: grader, rubric: 'Is the assistant polite?' })]);
  const episode = (reply: string) => ({ scenario: {}, messages: [{ role: 'user' as const, content: 'Hi' }, { role: 'assistant' as const, content: reply }], turns: [], doneReason: 'max_turns' });
  const scored = await rewards.scoreGroup([episode('Thank you for asking!'), episode('Go away.')]);
  assert.ok(Math.abs(scored.rewards[0] - 0.8) < 1e-6);
  assert.ok(Math.abs(scored.rewards[1] - 0.2) < 1e-6);
  assert.equal(rudeAttempts, 2, 'the out-of-range answer was asked again');
});

test('llmJudge at turn scope grades each turn on the conversation up to it', async () => {
  const seen: string[] = [];
  const grader: ChatBackend = {
    complete: async (messages) => {
      seen.push(messages[1].content);
      return 'Score: 5';
    },
  };
  const rewards = combineRewards([llmJudge({ chat: grader, rubric: 'Helpful?', scope: 'turn' })]);
  const episode = episodeOf(['First answer', 'Second answer']);
  const scored = await rewards.scoreGroup([episode]);
  assert.deepEqual(Array.from(scored.turnRewards[0]), [0.5, 0.5]);
  const first = seen.find((s) => s.includes('First answer'))!;
  assert.ok(!first.includes('Second answer'), 'the first turn is judged without what came after');
  assert.match(first, /Grade the last assistant message/);
});

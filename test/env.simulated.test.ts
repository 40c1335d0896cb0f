// A simulated user played by a local agent (the same tiny model) in a conversation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { agentChat, collectRollouts, ConversationEnvironment, simulatedUser, tool } from '../src/index.js';
import { tinyAgent } from './helpers/tiny-agent.js';

test('a local model plays the user after the scenario opener', async () => {
  const agent = await tinyAgent('llama', { generation: { maxNewTokens: 6 } });
  const user = simulatedUser({ chat: agentChat(agent, { maxNewTokens: 6 }), instructions: 'Be terse.' });
  const env = new ConversationEnvironment({ user, maxTurns: 3 });
  const scenario = { id: 'opener', persona: 'A customer who wants a refund.', userTurns: ['I want my money back.'] };
  const start = await env.reset(scenario);
  assert.equal(start.messages.at(-1)!.content, 'I want my money back.');
  const step = await env.step(start.state, { role: 'assistant', content: 'Which order?' });
  assert.equal(step.done, false);
  assert.equal(step.messages[0].role, 'user');
  const generated = step.messages[0].content;
  assert.ok(generated.length > 0 && generated !== 'I want my money back.', 'the second line comes from the model');
});

test('tools offered by the environment are described in the rollout prompt', async () => {
  const agent = await tinyAgent('llama', { generation: { maxNewTokens: 4 } });
  const lookup = tool({ name: 'lookup_order', description: 'Find an order', parameters: z.object({ id: z.string() }), execute: () => 'shipped' });
  const env = new ConversationEnvironment({ tools: [lookup], maxTurns: 1 });
  const batch = await collectRollouts(agent, env, [{ userTurns: ['Where is A1?'] }]);
  const [t] = batch.trajectories;
  const prompt = agent.policy.detokenize(t.tokens.subarray(0, t.promptLength));
  assert.match(prompt, /^<\|im_start\|>system\nYou can call these tools:\n<tools>\n\{"name":"lookup_order"/);
  assert.ok(prompt.endsWith('<|im_start|>user\nWhere is A1?<|im_end|>\n<|im_start|>assistant\n'));
});

// A reward endpoint that goes down mid-run: its calls are retried, then counted as
// failures (reward_failures), and training goes on to the last step.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { it } from 'node:test';
import { llmJudge, openAIChat, politeness, train } from '../src/index.js';
import { tinyAgent } from './helpers/tiny-agent.js';
import { tempDir } from './helpers/tiny-model.js';
import { SCENARIOS, TINY_TRAINER, environment, readJsonl } from './helpers/trainer.js';

/** A loopback OpenAI-compatible judge that always answers "Score: 8". */
async function judgeServer() {
  let calls = 0;
  const server = createServer((req, res) => {
    calls++;
    req.resume().on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ id: 'c', object: 'chat.completion', created: 0, model: 'judge', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'Polite enough. Score: 8' } }] }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const stop = () => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
  return { baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, stop, calls: () => calls };
}

it('a reward endpoint going down is retried, then counted as failures, and training goes on', async () => {
  const judge = await judgeServer();
  const out = join(tempDir(), 'run');
  const chat = openAIChat({ baseURL: judge.baseURL, model: 'judge', timeoutMs: 2_000, maxRetries: 1 });
  const result = await train({
    agent: await tinyAgent(),
    environment: environment(),
    rewards: [politeness(), { reward: llmJudge({ chat, rubric: 'Is the reply polite?', retries: 1, timeoutMs: 5_000 }), weight: 1 }],
    scenarios: SCENARIOS,
    config: { ...TINY_TRAINER, steps: 4 },
    tracking: { console: false },
    callbacks: {
      onStep: async (step) => {
        if (step === 2) await judge.stop();
      },
    },
    out,
  });
  assert.equal(result.step, 4);
  const metrics = readJsonl(join(out, 'metrics.jsonl'));
  assert.deepEqual(metrics.map((m) => m.reward_failures), [0, 0, 4, 4]);
  assert.deepEqual(metrics.map((m) => m['reward/llm_judge']), [0.8, 0.8, 'NaN', 'NaN']);
  // Each of the 8 calls after the outage was tried 2 times by the judge, each with 1 retry of the request.
  assert.equal(judge.calls(), 8);
  assert.ok(metrics.every((m) => Number.isFinite(m.reward_mean)));
});

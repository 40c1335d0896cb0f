// The demo's pieces that need no training: scenarios, the SFT corpus, metrics, evaluation, KL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModel, makeTinyModel } from '../src/index.js';
import { demoCorpus } from '../src/demo/corpus.js';
import { evaluateDemo, klToBase } from '../src/demo/evaluate.js';
import { replyMetrics } from '../src/demo/metrics.js';
import { DEMO_TOPICS, demoScenarios } from '../src/demo/scenarios.js';
import { episodeOf } from './helpers/episodes.js';
import { tinyAgent, tinyModelDir } from './helpers/tiny-agent.js';
import { tempDir } from './helpers/tiny-model.js';

test('held-out scenarios share no product or order number with the training ones or the corpus', () => {
  const train = demoScenarios('train');
  const heldout = demoScenarios('heldout');
  for (const topic of DEMO_TOPICS) {
    assert.ok(heldout.some((s) => s.metadata.topic === topic), `held-out has ${topic}`);
    assert.ok(train.some((s) => s.metadata.topic === topic), `train has ${topic}`);
  }
  assert.equal(new Set([...train, ...heldout].map((s) => s.id)).size, train.length + heldout.length, 'ids are unique');
  const corpusText = JSON.stringify(demoCorpus(train));
  for (const s of heldout) {
    assert.ok(!train.some((t) => t.metadata.product === s.metadata.product || t.metadata.orderNumber === s.metadata.orderNumber));
    assert.ok(!corpusText.includes(s.metadata.product) && !corpusText.includes(s.metadata.orderNumber), `${s.id} is not in the corpus`);
  }
  assert.deepEqual(demoScenarios('train'), train, 'the same list every time');
});

test('the corpus is polite a third of the time and long two thirds of the time', async () => {
  const conversations = demoCorpus(demoScenarios('train'));
  const episodes = conversations.map((messages) => ({ ...episodeOf(messages.filter((m) => m.role === 'assistant').map((m) => m.content)), reward: 0 }));
  const m = await replyMetrics(episodes);
  assert.ok(Math.abs(m.polite_rate - 1 / 3) < 0.01, `polite rate ${m.polite_rate}`);
  assert.ok(Math.abs(m.concise_rate - 1 / 3) < 0.01, `concise rate ${m.concise_rate}`);
  assert.ok(m.mean_words > 25, `mean words ${m.mean_words}`);
  // Each reply answers its customer line: the product the customer named comes back in first answers.
  const first = conversations.map((c) => ({ user: c[1].content, reply: c[2].content }));
  const named = first.filter(({ user }) => /jacket/.test(user));
  assert.ok(named.some(({ reply }) => /jacket/.test(reply)));
});

test('replyMetrics: rates per reply from the built-in rewards, reward as the rollout gave it', async () => {
  const episodes = [
    { ...episodeOf(['Thank you, it ships today.', 'one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty']), reward: 1 },
    { ...episodeOf(['Please wait.', 'Done.']), reward: 2 },
  ];
  const m = await replyMetrics(episodes);
  assert.equal(m.reward_mean, 1.5);
  assert.equal(m.polite_rate, 0.5);
  assert.equal(m.concise_rate, 0.75, 'twenty words is not under 20');
  assert.equal(m.mean_words, (5 + 20 + 2 + 1) / 4);
});

test('evaluateDemo is repeatable; the KL of a model to itself is 0 and to another model is not', async () => {
  const agent = await tinyAgent('gpt2');
  const scenarios = demoScenarios('heldout').slice(0, 3);
  const a = await evaluateDemo(agent, scenarios, { seed: 3, maxNewTokens: 8 });
  const b = await evaluateDemo(agent, scenarios, { seed: 3, maxNewTokens: 8 });
  assert.deepEqual(a.metrics, b.metrics);
  assert.deepEqual(a.conversations.map((c) => c.scenario.id), scenarios.map((s) => s.id));
  assert.ok(a.conversations.every((c) => c.turns.length === 2), 'the scripted customer speaks twice');

  const same = await loadModel(tinyModelDir('gpt2'));
  assert.ok(Math.abs(await klToBase(same, a.conversations)) < 1e-4);
  const otherDir = tempDir();
  makeTinyModel({ arch: 'gpt2', outDir: otherDir, seed: 99 });
  // Random tiny models are both near uniform, so their KL is small, but it is not 0.
  assert.ok(Math.abs(await klToBase(await loadModel(otherDir), a.conversations)) > 1e-3);
});

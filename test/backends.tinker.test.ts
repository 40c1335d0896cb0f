// The tinker backend against a real SkyRL Tinker server (CPU, JAX) on loopback, serving a
// tiny Llama the project makes. .ci/run installs the server (scripts/tinker-server/setup.sh).
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, groupAdvantages, loadModel, train, type TrainStepConfig } from '../src/index.js';
import { TinkerBackend } from '../src/backends/tinker/backend.js';
import { isCode } from './helpers/errors.js';
import { startTinkerServer, TINKER_VENV, tinkerServerMissing, type TinkerServer } from './helpers/tinker-server.js';
import { environment } from './helpers/trainer.js';

const missing = tinkerServerMissing();
const API_KEY = 'tml-test';
const STEP: TrainStepConfig = { learningRate: 2e-2, adamEps: 1e-8, weightDecay: 0 };

describe('tinker backend against a SkyRL server', { skip: missing }, () => {
  let server: TinkerServer;
  const open: TinkerBackend[] = [];
  const backend = async (extra: Record<string, unknown> = {}) => {
    const b = await TinkerBackend.create({ baseUrl: server.baseUrl, apiKey: API_KEY, baseModel: server.baseModel, loraRank: 8, ...extra });
    open.push(b);
    return b;
  };

  before(async () => {
    server = await startTinkerServer();
  });
  // The server holds a few adapters at a time: each test's models are unloaded after it.
  afterEach(async () => {
    for (const b of open.splice(0)) await b.close().catch(() => {});
  });
  after(async () => {
    await server?.stop();
  });

  /** A fixed batch: one prompt, two sampled continuations, their rollout log-probs. */
  async function sampledBatch(b: TinkerBackend) {
    const prompt = b.tokenize('<|im_start|>user\nhello there<|im_end|>\n<|im_start|>assistant\n');
    const completions = await b.generate([prompt, prompt, prompt, prompt], { maxNewTokens: 6, temperature: 1, seed: 5 });
    const sequences = completions.map((c) => Int32Array.from([...prompt, ...c.tokens]));
    const masks = completions.map((c) => Uint8Array.from([...new Array(prompt.length).fill(0), ...new Array(c.tokens.length).fill(1)]));
    const oldLogprobs = completions.map((c) => Float32Array.from([...new Array(prompt.length).fill(0), ...c.logprobs]));
    return { prompt, completions, sequences, masks, oldLogprobs };
  }

  test('sampling returns a group with log-probs that match the forward pass', async () => {
    const b = await backend();
    const { completions, sequences, masks } = await sampledBatch(b);
    assert.equal(completions.length, 4);
    const distinct = new Set(completions.map((c) => c.tokens.join(',')));
    assert.ok(distinct.size > 1, 'the members of a group differ');
    const scored = await b.score(sequences);
    completions.forEach((c, i) => {
      const sampled = scored[i].logprobs.subarray(masks[i].indexOf(1) - 1);
      c.logprobs.forEach((lp, t) => assert.ok(Math.abs(lp - sampled[t]) < 1e-3, `token ${t}: sampler ${lp} vs forward ${sampled[t]}`));
    });
  });

  test('a GRPO step raises the advantage-weighted log-probs (the surrogate)', async () => {
    const b = await backend();
    const { sequences, masks, oldLogprobs } = await sampledBatch(b);
    const rewardOf = [1, 0, 0, 1];
    const advantages = groupAdvantages({ rewards: Float32Array.from(rewardOf), groupSize: 4 });
    const before = await b.score(sequences);
    const metrics = await b.trainStep({ sequences, masks, oldLogprobs, advantages }, { ...STEP, learningRate: 1e-3 });
    assert.equal(metrics.skipped, false);
    assert.ok(Number.isFinite(metrics.loss) && metrics.grad_norm > 0);
    const afterStep = await b.score(sequences);
    // A small step raises the surrogate sum_i A_i * log p(completion i) (first order).
    const objective = (scores: Array<{ logprobs: Float32Array }>) =>
      scores.reduce((sum, s, i) => sum + advantages[i] * s.logprobs.reduce((acc, lp, t) => acc + (masks[i][t + 1] ? lp : 0), 0), 0);
    assert.ok(objective(afterStep) > objective(before) + 1e-4, `objective ${objective(before)} -> ${objective(afterStep)}`);
  });

  for (const loss of ['token_clip', 'cispo'] as const) {
    test(`the two-pass custom loss takes the same step as the server's built-in loss (${loss})`, async () => {
      const builtin = await backend({ seed: 11 });
      const custom = await backend({ seed: 11, builtinLosses: false });
      const { sequences, masks, oldLogprobs } = await sampledBatch(builtin);
      const advantages = Float32Array.from([0.9, -0.3, -0.9, 0.3]);
      const step = { ...STEP, loss };
      const a = await builtin.trainStep({ sequences, masks, oldLogprobs, advantages }, step);
      const b = await custom.trainStep({ sequences, masks, oldLogprobs, advantages }, step);
      assert.ok(Math.abs(a.loss - b.loss) < 1e-5, `loss ${a.loss} vs ${b.loss}`);
      const [sa, sb] = [await builtin.score(sequences), await custom.score(sequences)];
      let moved = 0;
      sa.forEach((s, i) => s.logprobs.forEach((lp, t) => {
        assert.ok(Math.abs(lp - sb[i].logprobs[t]) < 2e-4, `seq ${i} token ${t}: ${lp} vs ${sb[i].logprobs[t]}`);
        moved = Math.max(moved, Math.abs(lp - oldLogprobs[i][t + 1]) * masks[i][t + 1]);
      }));
      assert.ok(moved > 1e-3, 'the step changed the policy');
    });
  }

  test('save_state / load_state: a resumed model takes the same next step', async () => {
    const first = await backend({ seed: 4 });
    const { sequences, masks, oldLogprobs } = await sampledBatch(first);
    const advantages = Float32Array.from([1, -1, 0.5, -0.5]);
    await first.trainStep({ sequences, masks, oldLogprobs, advantages }, STEP);
    const dir = mkdtempSync(join(tmpdir(), 'tinker-state-'));
    await first.saveTrainingState(dir);
    await first.trainStep({ sequences, masks, oldLogprobs, advantages }, STEP);
    const continued = await first.score(sequences);

    const resumed = await backend({ seed: 99 });
    await resumed.loadTrainingState(dir);
    await resumed.trainStep({ sequences, masks, oldLogprobs, advantages }, STEP);
    const again = await resumed.score(sequences);
    continued.forEach((s, i) => s.logprobs.forEach((lp, t) => assert.ok(Math.abs(lp - again[i].logprobs[t]) < 1e-4, `seq ${i} token ${t}: ${lp} vs ${again[i].logprobs[t]}`)));
  });

  test('the downloaded adapter loads in the native engine and scores like the server', async () => {
    const b = await backend({ seed: 2 });
    const { sequences, masks, oldLogprobs } = await sampledBatch(b);
    await b.trainStep({ sequences, masks, oldLogprobs, advantages: Float32Array.from([1, -1, 1, -1]) }, STEP);
    const dir = mkdtempSync(join(tmpdir(), 'tinker-adapter-'));
    await b.saveAdapter(dir);
    assert.deepEqual(readdirSync(dir).sort(), ['adapter_config.json', 'adapter_model.safetensors']);
    const local = await loadModel(dir);
    const [remote, native] = [await b.score(sequences), await local.score(sequences)];
    remote.forEach((s, i) => s.logprobs.forEach((lp, t) => assert.ok(Math.abs(lp - native[i].logprobs[t]) < 1e-3, `seq ${i} token ${t}: server ${lp} vs native ${native[i].logprobs[t]}`)));
    // And in Python: transformers + peft (from the server's environment) load the same folder.
    const python = spawnSync(join(TINKER_VENV, 'bin', 'python'), [join(import.meta.dirname, '..', 'scripts', 'tinker-server', 'peft_logprobs.py'), server.baseModel, dir], {
      input: JSON.stringify(sequences.map((s) => Array.from(s))),
      encoding: 'utf8',
    });
    assert.equal(python.status, 0, python.stderr);
    const peft = JSON.parse(python.stdout) as number[][];
    remote.forEach((s, i) => s.logprobs.forEach((lp, t) => assert.ok(Math.abs(lp - peft[i][t]) < 1e-3, `seq ${i} token ${t}: server ${lp} vs peft ${peft[i][t]}`)));
  });

  test('the trainer runs GRPO through the backend, checkpoints and resumes', async () => {
    const config = { model: server.baseModel, backend: { type: 'tinker' as const, baseUrl: server.baseUrl, apiKey: API_KEY }, lora: { rank: 8 } };
    const agent = await Agent.create(config);
    open.push(agent.policy as TinkerBackend);
    const half = agent.policy.config.vocabSize / 2;
    const lowerHalf = { name: 'lower_half', scope: 'episode' as const, score: (episode: { turns: Array<{ assistant: { content: string } }> }) => {
      const ids = agent.policy.tokenize(episode.turns[0].assistant.content);
      return ids.length ? ids.filter((t) => t < half).length / ids.length : 0;
    } };
    const out = mkdtempSync(join(tmpdir(), 'tinker-run-'));
    const run = (steps: number, a: Agent, resume = false) =>
      train({
        agent: a,
        environment: environment(),
        scenarios: [{ id: 'a', userTurns: ['Hello, where is my order?'] }, { id: 'b', userTurns: ['I want a refund.'] }],
        rewards: [lowerHalf],
        config: { steps, batchSize: 2, groupSize: 4, learningRate: 2e-2, generation: { maxNewTokens: 8 }, saveEvery: 2, overlong: { maskTruncated: false } },
        out,
        resume,
      });
    const first = await run(2, agent);
    assert.equal(first.step, 2);
    assert.ok(Number.isFinite(first.lastMetrics!.loss) && Number.isFinite(first.lastMetrics!.grad_norm as number));
    assert.ok(existsSync(join(out, 'checkpoints', 'step-2', 'adapter', 'adapter_model.safetensors')));
    assert.ok(existsSync(join(out, 'checkpoints', 'step-2', 'training_state', 'tinker_state.json')));
    const again = await Agent.create(config);
    open.push(again.policy as TinkerBackend);
    const resumed = await run(4, again, true);
    open.push(resumed.agent.policy as TinkerBackend);
    assert.equal(resumed.step, 4);
    assert.ok(existsSync(join(out, 'checkpoints', 'step-4', 'adapter', 'adapter_model.safetensors')));
  });

  test('GRPO through the trainer learns a toy reward', async () => {
    const agent = await Agent.create({ model: server.baseModel, backend: { type: 'tinker', baseUrl: server.baseUrl, apiKey: API_KEY }, lora: { rank: 8 } });
    open.push(agent.policy as TinkerBackend);
    const half = agent.policy.config.vocabSize / 2;
    // The share of reply tokens from the upper half of the vocabulary: about 0.05 at first on this model.
    const upperHalf = { name: 'upper_half', scope: 'episode' as const, score: (episode: { turns: Array<{ assistant: { content: string } }> }) => {
      const ids = agent.policy.tokenize(episode.turns[0].assistant.content);
      return ids.length ? ids.filter((t) => t >= half).length / ids.length : 0;
    } };
    const seen: number[] = [];
    await train({
      agent,
      environment: environment(),
      scenarios: [{ id: 'a', userTurns: ['Hello, where is my order?'] }, { id: 'b', userTurns: ['I want a refund.'] }],
      rewards: [upperHalf],
      config: { steps: 10, batchSize: 2, groupSize: 8, learningRate: 1e-2, generation: { maxNewTokens: 8 }, overlong: { maskTruncated: false } },
      callbacks: { onStep: (_, m) => void seen.push(m.reward_mean as number) },
      tracking: { console: { quiet: true }, tensorboard: false },
      out: mkdtempSync(join(tmpdir(), 'tinker-learn-')),
    });
    const first = (seen[0] + seen[1]) / 2;
    const last = (seen[8] + seen[9]) / 2;
    assert.ok(last > first + 0.3, `mean reward rose clearly: ${seen.map((r) => r.toFixed(2)).join(' ')}`);
  });

  test('errors name what to check', async () => {
    await assert.rejects(TinkerBackend.create({ baseUrl: server.baseUrl, apiKey: 'sk-wrong', baseModel: server.baseModel }), isCode('ERR_INVALID_CONFIG', /tml-/));
    await assert.rejects(TinkerBackend.create({ baseUrl: server.baseUrl, apiKey: API_KEY, baseModel: server.baseModel + '-x', tokenizer: server.baseModel }), isCode('ERR_INVALID_CONFIG', /does not serve/));
    await assert.rejects(TinkerBackend.create({ baseUrl: 'http://127.0.0.1:9', apiKey: API_KEY, baseModel: server.baseModel, retries: 1 }), isCode('ERR_BACKEND_UNREACHABLE', /baseUrl/));
    const b = await backend();
    // A request the server refuses (a LoRA rank above its limit) comes back as a 400 with its detail.
    await assert.rejects(TinkerBackend.create({ baseUrl: server.baseUrl, apiKey: API_KEY, baseModel: server.baseModel, loraRank: 64 }), isCode('ERR_BACKEND_REQUEST', /rank/i));
    void b;
  });
  // Last: it stops the server.
  test('a server that goes away mid-run ends it with a named error and leaves the checkpoint whole', async () => {
    const config = { model: server.baseModel, backend: { type: 'tinker' as const, baseUrl: server.baseUrl, apiKey: API_KEY, retries: 1 }, lora: { rank: 8 } };
    const agent = await Agent.create(config);
    const out = mkdtempSync(join(tmpdir(), 'tinker-down-'));
    let stopped = false;
    await assert.rejects(
      train({
        agent,
        environment: environment(),
        scenarios: [{ id: 'a', userTurns: ['Hello?'] }],
        config: { steps: 3, batchSize: 1, groupSize: 2, learningRate: 1e-2, generation: { maxNewTokens: 4 }, saveEvery: 1, overlong: { maskTruncated: false } },
        out,
        callbacks: {
          onCheckpoint: async (info) => {
            if (info.step === 1 && !stopped) {
              stopped = true;
              await server.stop();
            }
          },
        },
      }),
      isCode('ERR_BACKEND_UNREACHABLE', /baseUrl/),
    );
    assert.ok(stopped);
    const step1 = join(out, 'checkpoints', 'step-1');
    for (const part of ['adapter/adapter_model.safetensors', 'adapter/adapter_config.json', 'training_state/tinker_state.json', 'trainer_state.json']) {
      assert.ok(existsSync(join(step1, part)), `${part} is in the last checkpoint`);
    }
    assert.ok(!existsSync(join(out, 'checkpoints', 'step-2')));
  });

});

describe('tinker futures', () => {
  // The real server cannot be made to hold a future forever; this loopback stand-in answers
  // submissions and then only "408, ask again", as a stuck server would.
  let stuck: Server;
  let url: string;
  before(async () => {
    stuck = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      if (req.url?.endsWith('/retrieve_future')) {
        res.statusCode = 408;
        res.end('{"detail":"not ready"}');
      } else if (req.url?.endsWith('/get_server_capabilities')) res.end('{"supported_models":[]}');
      else res.end('{"request_id":"7","session_id":"s","model_id":"m"}');
    });
    await new Promise<void>((r) => stuck.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(stuck.address() as { port: number }).port}`;
  });
  after(() => stuck.close());

  test('a future that never completes ends in ERR_BACKEND_TIMEOUT', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'tinker-stuck-')), 'm');
    const { makeTinyModel } = await import('../src/index.js');
    makeTinyModel({ arch: 'llama', outDir: dir });
    await assert.rejects(TinkerBackend.create({ baseUrl: url, apiKey: API_KEY, baseModel: dir, futureTimeoutMs: 1500 }), isCode('ERR_BACKEND_TIMEOUT', /did not complete/));
  });
});

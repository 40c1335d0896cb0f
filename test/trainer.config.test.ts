// Trainer and run configs: presets fill defaults, overrides win, invalid configs list every problem.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseRunConfig, resolveConfig } from '../src/index.js';
import { throwsCode } from './helpers/errors.js';
import { tempDir } from './helpers/tiny-model.js';
import { runCli } from './helpers/trainer.js';

describe('resolveConfig', () => {
  it('fills the preset and keeps the overrides', () => {
    const config = resolveConfig({ algorithm: 'dapo', learningRate: 3e-4, loss: { beta: 0.01 } });
    assert.equal(config.loss.epsHigh, 0.28);
    assert.equal(config.loss.beta, 0.01);
    assert.equal(config.learningRate, 3e-4);
    assert.equal(config.dynamicSampling.enabled, true);
  });

  it('lists every problem with its path', () => {
    throwsCode(
      () => resolveConfig({ learningRate: -1, batchSize: 1.5, loss: { aggregation: 'mean' as never } }),
      'ERR_INVALID_CONFIG',
      /3 problems:\n {2}batchSize: expected a positive integer, got 1\.5\n {2}learningRate: expected a positive number, got -1\n {2}loss\.aggregation: expected one of "token-mean"/,
    );
  });
});

describe('parseRunConfig', () => {
  it('lays the algorithm preset under a partial trainer section', () => {
    const config = parseRunConfig({ model: 'tiny', algorithm: 'gspo', trainer: { steps: 3 } }, 'test');
    assert.equal(config.trainer.algorithm, 'gspo');
    assert.equal(config.trainer.loss.loss, 'gspo');
    assert.equal(config.trainer.steps, 3);
    assert.deepEqual(config.environment, { type: 'conversation' });
  });

  it('reports problems across sections at once', () => {
    const lines = [
      'run.yaml has 5 problems:',
      '  model: expected a string of at least 1 character, got ""',
      '  scenarios: expected a non-empty list of items, { file: path } (.jsonl, .json or .yaml), or { module, export }',
      '  rewards.0.module: give either name (a built-in reward: politeness, conciseness, ',
      '  trainer.steps: expected a positive integer, got 0',
      '  trainer.lossy: unknown key, did you mean "loss"?',
    ];
    assert.throws(
      () => parseRunConfig({ model: '', trainer: { steps: 0, lossy: 1 }, rewards: [{ weight: 2 }], scenarios: 'many' }, 'run.yaml'),
      (err: Error) => lines.every((line) => err.message.includes(line)),
    );
  });
});

describe('stateset-agents train with an invalid config', () => {
  it('prints every problem and exits 2 without starting', async () => {
    const dir = tempDir();
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'model: tiny\ntrainer:\n  learningRate: fast\n  groupSize: -2\nrewards:\n  - { name: politeness, weight: heavy }\n');
    const { done } = runCli(['train', '--config', file, '--out', join(dir, 'run')]);
    const { code, stderr } = await done;
    assert.equal(code, 2, stderr);
    assert.match(stderr, /trainer\.learningRate: expected a positive number, got "fast"/);
    assert.match(stderr, /trainer\.groupSize: expected a positive integer, got -2/);
    assert.match(stderr, /rewards\.0/);
  });

  it('names an unknown built-in reward and the built-ins there are', async () => {
    const dir = tempDir();
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, `model: tiny\nscenarios: [{ userTurns: [hi] }]\nrewards: [{ name: kindness }]\n`);
    const { code, stderr } = await runCli(['train', '--config', file, '--out', join(dir, 'run')]).done;
    assert.equal(code, 2, stderr);
    assert.match(stderr, /rewards\.0\.name: expected one of "politeness", "conciseness", /);
  });

  it('rejects a --set that does not parse', async () => {
    const { code, stderr } = await runCli(['train', '--config', 'examples/customer-service/config.yaml', '--set', 'trainer.steps']).done;
    assert.equal(code, 2, stderr);
    assert.match(stderr, /expected key=value/);
  });
});

// Config files (YAML, JSON) + overrides + schema, and module references imported from a
// real TypeScript file beside the config.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { importModuleReference, loadConfig, ModuleReferenceSchema, readConfigFile, StatesetError } from '../src/index.js';
import { throwsCode } from './helpers/errors.js';

const RewardRef = ModuleReferenceSchema.extend({ weight: z.number().positive().default(1) });
const Schema = z.object({
  model: z.string(),
  trainer: z.object({ learningRate: z.number().positive(), steps: z.number().int().positive() }),
  rewards: z.array(RewardRef).default([]),
});

function project(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ss-config-'));
  mkdirSync(join(dir, 'configs'));
  writeFileSync(
    join(dir, 'configs', 'rewards.ts'),
    [
      'interface Turn { text: string }',
      'export const politeness = (turn: Turn): number => (turn.text.includes("please") ? 1 : 0);',
      'export default function length(turn: Turn): number { return turn.text.length; }',
      'export const weightless = undefined;',
    ].join('\n'),
  );
  writeFileSync(join(dir, 'configs', 'broken.ts'), 'throw new Error("reward setup failed");\n');
  return dir;
}

/** For assert.rejects: a StatesetError with `code` whose message matches. */
const isCode = (code: string, message: RegExp) => (e: unknown) => e instanceof StatesetError && e.code === code && message.test(e.message);

test('a YAML file, overrides and the schema give a typed config; module references import from the file\'s folder', async () => {
  const dir = project();
  const file = join(dir, 'configs', 'train.yaml');
  writeFileSync(file, ['model: ./models/tiny', 'trainer:', '  learningRate: 1.0e-5', '  steps: 10', 'rewards:', '  - { module: ./rewards.ts, export: politeness, weight: 2 }', '  - module: ./rewards.ts'].join('\n'));
  const { config, baseDir } = loadConfig(Schema, { file, overrides: ['trainer.steps=20', 'rewards.1.weight=0.5'] });
  assert.equal(baseDir, join(dir, 'configs'));
  assert.deepEqual(config.trainer, { learningRate: 1e-5, steps: 20 });
  assert.deepEqual(config.rewards, [{ module: './rewards.ts', export: 'politeness', weight: 2 }, { module: './rewards.ts', weight: 0.5 }]);

  const politeness = (await importModuleReference(config.rewards[0], baseDir, 'rewards.0')) as (t: { text: string }) => number;
  const length = (await importModuleReference(config.rewards[1], baseDir, 'rewards.1')) as (t: { text: string }) => number;
  assert.equal(politeness({ text: 'please help' }), 1);
  assert.equal(length({ text: 'abc' }), 3);
});

test('JSON files load the same way; overrides alone work without a file', () => {
  const dir = project();
  const file = join(dir, 'train.json');
  writeFileSync(file, JSON.stringify({ model: 'm', trainer: { learningRate: 0.1, steps: 1 } }));
  assert.equal(loadConfig(Schema, { file }).config.trainer.learningRate, 0.1);
  const { config, baseDir } = loadConfig(Schema, { overrides: ['model=m', 'trainer.learningRate=1', 'trainer.steps=2'] });
  assert.deepEqual(config.trainer, { learningRate: 1, steps: 2 });
  assert.equal(baseDir, process.cwd());
});

test('schema problems in a file are listed one per line under the file name', () => {
  const dir = project();
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, 'model: m\ntrainer:\n  learningRate: fast\n  steps: 0\n');
  assert.throws(
    () => loadConfig(Schema, { file }),
    (e) =>
      e instanceof StatesetError &&
      e.code === 'ERR_INVALID_CONFIG' &&
      e.message === `${file} has 2 problems:\n  trainer.learningRate: expected a positive number, got "fast"\n  trainer.steps: expected a positive integer, got 0`,
  );
  throwsCode(() => loadConfig(Schema, { file, overrides: ['trainer.learningRate=fast'] }), 'ERR_INVALID_CONFIG', /got "fast"/);
});

test('unreadable files are ERR_CONFIG_FILE with the path, and the line for YAML', () => {
  const dir = project();
  const write = (name: string, text: string) => (writeFileSync(join(dir, name), text), join(dir, name));
  throwsCode(() => readConfigFile(join(dir, 'missing.yaml')), 'ERR_CONFIG_FILE', /missing\.yaml: file not found/);
  throwsCode(() => readConfigFile(write('c.toml', 'a = 1')), 'ERR_CONFIG_FILE', /unsupported config file type "\.toml"; use \.yaml, \.yml or \.json/);
  throwsCode(() => readConfigFile(write('bad.yml', 'model: m\ntrainer: [1, 2\n')), 'ERR_CONFIG_FILE', /bad\.yml:\d+:\d+: invalid YAML/);
  throwsCode(() => readConfigFile(write('bad.json', '{"model": }')), 'ERR_CONFIG_FILE', /bad\.json: invalid JSON/);
  throwsCode(() => readConfigFile(write('list.yaml', '- 1\n- 2\n')), 'ERR_INVALID_CONFIG', /top level must be a mapping.*got a list/);
  throwsCode(() => readConfigFile(write('empty.yaml', '')), 'ERR_INVALID_CONFIG', /top level must be a mapping.*got null/);
});

test('module references fail with ERR_MODULE_LOAD naming the reference and the fix', async () => {
  const base = join(project(), 'configs');
  await assert.rejects(importModuleReference({ module: './nope.ts' }, base, 'rewards.0'), isCode('ERR_MODULE_LOAD', /^rewards\.0: module \.\/nope\.ts not found at .*nope\.ts \(paths are relative to the config file's folder/));
  await assert.rejects(importModuleReference({ module: './rewards.ts', export: 'polite' }, base, 'rewards.1'), isCode('ERR_MODULE_LOAD', /rewards\.1: \.\/rewards\.ts has no export "polite"; it exports "default", "politeness"/));
  await assert.rejects(importModuleReference({ module: './rewards.ts', export: 'weightless' }, base), isCode('ERR_MODULE_LOAD', /no export "weightless"/));
  await assert.rejects(importModuleReference({ module: './broken.ts' }, base, 'rewards.2'), isCode('ERR_MODULE_LOAD', /rewards\.2: could not import \.\/broken\.ts: reward setup failed/));
  await assert.rejects(importModuleReference({ module: 'no-such-package-xyz' }, base), isCode('ERR_MODULE_LOAD', /could not import no-such-package-xyz/));
});

test('package names import as packages', async () => {
  const parse = (await importModuleReference({ module: 'yaml', export: 'parse' }, '/')) as (s: string) => unknown;
  assert.deepEqual(parse('a: 1'), { a: 1 });
});

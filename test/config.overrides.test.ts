// --set key=value: value parsing, dotted paths into objects and lists, clear errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyOverrides, parseOverrideValue } from '../src/index.js';
import { throwsCode } from './helpers/errors.js';

test('values read as numbers, booleans, null and JSON when they look like one, else strings', () => {
  assert.equal(parseOverrideValue('3e-4'), 3e-4);
  assert.equal(parseOverrideValue('-2'), -2);
  assert.equal(parseOverrideValue('.5'), 0.5);
  assert.equal(parseOverrideValue('true'), true);
  assert.equal(parseOverrideValue('false'), false);
  assert.equal(parseOverrideValue('null'), null);
  assert.deepEqual(parseOverrideValue('[1, "a"]'), [1, 'a']);
  assert.deepEqual(parseOverrideValue('{"module":"./r.ts"}'), { module: './r.ts' });
  assert.equal(parseOverrideValue('"007"'), '007', 'JSON quotes keep a number-like string a string');
  assert.equal(parseOverrideValue('gpt2'), 'gpt2');
  assert.equal(parseOverrideValue('1e'), '1e');
  assert.equal(parseOverrideValue('0x10'), '0x10');
  assert.equal(parseOverrideValue('a=b'), 'a=b');
  assert.equal(parseOverrideValue(''), '');
});

test('dotted paths set nested values, create missing objects and index lists; the input is untouched', () => {
  const base = { trainer: { learningRate: 1e-5, steps: 10 }, rewards: [{ module: './a.ts', weight: 1 }] };
  const result = applyOverrides(base, ['trainer.learningRate=3e-4', 'wandb.project=demo', 'rewards.0.weight=0.5', 'rewards.1={"module":"./b.ts"}', 'model=path/to/model=v2']);
  assert.deepEqual(result, {
    trainer: { learningRate: 3e-4, steps: 10 },
    wandb: { project: 'demo' },
    rewards: [{ module: './a.ts', weight: 0.5 }, { module: './b.ts' }],
    model: 'path/to/model=v2',
  });
  assert.equal(base.trainer.learningRate, 1e-5);
  assert.equal(base.rewards.length, 1);
});

test('malformed overrides are ERR_INVALID_CONFIG naming the override and the fix', () => {
  const cases: [string, RegExp][] = [
    ['learningRate', /expected key=value/],
    ['=3', /expected key=value/],
    ['trainer..steps=3', /empty part/],
    ['trainer.steps.max=3', /trainer\.steps is 10, not an object/],
    ['rewards.first=1', /rewards is a list, so "first" must be an index/],
    ['rewards.5.weight=1', /rewards has 1 items; use an index up to 1/],
    ['__proto__.polluted=1', /cannot be used as a config key/],
    ['tags=[1, 2', /starts like JSON but is not valid JSON/],
  ];
  for (const [override, message] of cases) {
    throwsCode(() => applyOverrides({ trainer: { steps: 10 }, rewards: [{}] }, [override]), 'ERR_INVALID_CONFIG', message);
  }
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

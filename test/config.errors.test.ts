// zod failures as one readable line per problem, with dotted paths and the offending value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { describeZodIssues, parseConfig, StatesetError } from '../src/index.js';

const Schema = z
  .object({
    model: z.string(),
    trainer: z
      .object({
        learningRate: z.number().positive(),
        steps: z.number().int().positive().default(100),
        warmup: z.number().int().nonnegative().optional(),
        clip: z.number().min(0.1).max(10).default(1),
        preset: z.enum(['grpo', 'gspo']),
        device: z.union([z.literal('cpu'), z.number().int()]).default('cpu'),
        tags: z.array(z.string().min(2)).default([]),
        stops: z.array(z.string()).max(1).default([]),
      })
      .strict(),
  })
  .strict();

function problems(input: unknown): string[] {
  const parsed = Schema.safeParse(input);
  assert.ok(!parsed.success);
  return describeZodIssues(parsed.error, input, Schema);
}

test('type errors read in the schema\'s terms and quote the bad value', () => {
  assert.deepEqual(problems({ model: 'gpt2', trainer: { learningRate: 'fast', preset: 'grpo', steps: true, warmup: 'x' } }), [
    'trainer.learningRate: expected a positive number, got "fast"',
    'trainer.steps: expected a positive integer, got true',
    'trainer.warmup: expected a non-negative integer, got "x"',
  ]);
});

test('missing keys, bounds, enums, unions, lists and unknown keys', () => {
  const input = { trainer: { learningRate: -1, clip: 20, preset: 'ppo', device: 'tpu', tags: ['a', 'bb'], stops: ['x', 'y'], lerningRate: 1 }, extra: 1 };
  assert.deepEqual(problems(input), [
    'model: expected a string, got nothing (the key is missing)',
    'trainer.learningRate: expected a positive number, got -1',
    'trainer.clip: expected a number <= 10, got 20',
    'trainer.preset: expected one of "grpo", "gspo", got "ppo"',
    'trainer.device: expected "cpu" or an integer, got "tpu"',
    'trainer.tags.0: expected a string of at least 2 characters, got "a"',
    'trainer.stops: expected at most 1 item, got a list of 2',
    'trainer.lerningRate: unknown key, did you mean "learningRate"? (known keys: learningRate, steps, warmup, clip, preset, device, tags, stops)',
    'extra: unknown key (known keys: model, trainer)',
  ]);
});

test('without the schema, lines still name path, expectation and value', () => {
  const parsed = Schema.safeParse({ model: 1, trainer: { learningRate: 1, preset: 'grpo' } });
  assert.ok(!parsed.success);
  assert.deepEqual(describeZodIssues(parsed.error, { model: 1 }), ['model: expected a string, got 1']);
});

test('parseConfig returns typed data with defaults, or one ERR_INVALID_CONFIG listing every problem', () => {
  const config = parseConfig(Schema, { model: 'gpt2', trainer: { learningRate: 1e-5, preset: 'gspo' } });
  assert.equal(config.trainer.steps, 100);
  assert.throws(
    () => parseConfig(Schema, { model: 'gpt2', trainer: { learningRate: 0, preset: 'x' } }, 'train.yaml'),
    (e) =>
      e instanceof StatesetError &&
      e.code === 'ERR_INVALID_CONFIG' &&
      e.message === 'train.yaml has 2 problems:\n  trainer.learningRate: expected a positive number, got 0\n  trainer.preset: expected one of "grpo", "gspo", got "x"',
  );
});

/**
 * Checks of the model API's arguments, with errors that name the bad value and the fix.
 * The native core checks token ids against the vocabulary (ERR_INVALID_TOKEN).
 */
import { fail } from '../core/errors.js';
import type { NativeGenerateOptions, NativeScoreOptions } from '../native.js';
import type { GenerationDefaults } from '../io/types.js';
import type { GenerateOptions, ScoreOptions } from './types.js';

function number(name: string, value: unknown, lo: number, hi: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < lo || value > hi) {
    fail('ERR_INVALID_PARAMETER', `${name} must be a number in [${lo}, ${hi}], got ${String(value)}`);
  }
  return value;
}

function integer(name: string, value: unknown, lo: number, hi: number, fallback: number): number {
  const n = number(name, value, lo, hi, fallback);
  if (!Number.isInteger(n)) fail('ERR_INVALID_PARAMETER', `${name} must be an integer, got ${n}`);
  return n;
}

/** Token id arrays: Int32Array as is, arrays of integers converted. */
export function tokenArrays(name: string, value: unknown): Int32Array[] {
  if (!Array.isArray(value)) fail('ERR_INVALID_ARGUMENT', `${name} must be an array of Int32Array token id sequences`);
  return value.map((seq, i) => {
    if (seq instanceof Int32Array) return seq;
    if (Array.isArray(seq) && seq.every((t) => Number.isInteger(t))) return Int32Array.from(seq as number[]);
    return fail('ERR_INVALID_ARGUMENT', `${name}[${i}] must be an Int32Array (or an array of integers) of token ids`);
  });
}

export function generateOptions(options: GenerateOptions | undefined, defaults: GenerationDefaults, prompts: number): NativeGenerateOptions {
  if (options === null || typeof options !== 'object') {
    fail('ERR_INVALID_ARGUMENT', 'generate needs an options object, at least { maxNewTokens }');
  }
  const topP = number('topP', options.topP, 0, 1, defaults.topP ?? 1);
  if (topP === 0) fail('ERR_INVALID_PARAMETER', 'topP must be in (0, 1]; use 1 to turn nucleus sampling off');
  const stop = options.stopTokenIds;
  if (stop !== undefined && !(Array.isArray(stop) && stop.every((t) => Number.isInteger(t) && t >= 0))) {
    fail('ERR_INVALID_PARAMETER', 'stopTokenIds must be an array of non-negative integer token ids');
  }
  const maxNewTokens = options.maxNewTokens ?? defaults.maxNewTokens;
  if (maxNewTokens === undefined) fail('ERR_INVALID_PARAMETER', 'maxNewTokens is required (this model has no default)');
  return {
    maxNewTokens: integer('maxNewTokens', maxNewTokens, 0, 1 << 20, 0),
    temperature: number('temperature', options.temperature, 0, 100, defaults.temperature ?? 1),
    topP,
    topK: integer('topK', options.topK, 0, 2 ** 31 - 1, defaults.topK ?? 0),
    minP: number('minP', options.minP, 0, 1, 0),
    repetitionPenalty: number('repetitionPenalty', options.repetitionPenalty, 1e-3, 1e3, defaults.repetitionPenalty ?? 1),
    stopTokenIds: stop,
    seed: integer('seed', options.seed, 0, Number.MAX_SAFE_INTEGER, 0),
    ...(options.seeds === undefined ? {} : { seeds: rowSeeds(options.seeds, prompts) }),
  };
}

/** One seed per prompt, each an integer in [0, 2^53). */
function rowSeeds(seeds: unknown, prompts: number): number[] {
  if (!Array.isArray(seeds) || seeds.length !== prompts) {
    fail('ERR_INVALID_PARAMETER', `seeds must be an array of one seed per prompt (${prompts}), got ${Array.isArray(seeds) ? `${seeds.length} seeds` : typeof seeds}`);
  }
  return seeds.map((seed, i) => integer(`seeds[${i}]`, seed ?? NaN, 0, Number.MAX_SAFE_INTEGER, 0));
}

export function scoreOptions(options: ScoreOptions | undefined): NativeScoreOptions {
  const o = options ?? {};
  const temperature = number('temperature', o.temperature, 0, 100, 1);
  if (temperature === 0) fail('ERR_INVALID_PARAMETER', 'temperature must be above 0 when scoring');
  if (o.entropy !== undefined && typeof o.entropy !== 'boolean') fail('ERR_INVALID_PARAMETER', 'entropy must be a boolean');
  return { start: integer('start', o.start, 1, 2 ** 31 - 1, 1), temperature, entropy: o.entropy ?? false };
}

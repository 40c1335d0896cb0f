/**
 * Config from a file plus `--set` overrides, validated by a zod schema: the one path by
 * which the CLI and scripts turn user settings into a typed config.
 */
import { dirname, resolve } from 'node:path';
import type { z } from 'zod';
import { StatesetError } from '../core/errors.js';
import { readConfigFile } from './file.js';
import { applyOverrides } from './overrides.js';
import { describeZodIssues } from './zod-errors.js';

export interface LoadConfigOptions {
  /** A .yaml, .yml or .json file; without one, the config is built from overrides alone. */
  file?: string;
  /** `key=value` strings, applied in order after the file. */
  overrides?: readonly string[];
}

export interface LoadedConfig<T> {
  config: T;
  /** Where module references resolve from: the config file's folder, else the working folder. */
  baseDir: string;
}

/** Validates `value`; on failure throws ERR_INVALID_CONFIG listing every problem, one per line. */
export function parseConfig<S extends z.ZodType>(schema: S, value: unknown, source = 'config'): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const problems = describeZodIssues(parsed.error, value, schema);
  const noun = problems.length === 1 ? 'problem' : 'problems';
  throw new StatesetError('ERR_INVALID_CONFIG', `${source} has ${problems.length} ${noun}:\n${problems.map((p) => `  ${p}`).join('\n')}`, { cause: parsed.error });
}

export function loadConfig<S extends z.ZodType>(schema: S, options: LoadConfigOptions): LoadedConfig<z.output<S>> {
  const raw = options.file ? readConfigFile(options.file) : {};
  const merged = applyOverrides(raw, options.overrides ?? []);
  const source = options.file ? resolve(options.file) : 'the config';
  return {
    config: parseConfig(schema, merged, source),
    baseDir: options.file ? dirname(resolve(options.file)) : process.cwd(),
  };
}

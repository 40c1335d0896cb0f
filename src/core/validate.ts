/** Zod validation that fails with a StatesetError naming every offending field. */
import type { z } from 'zod';
import { describeZodIssues } from '../config/zod-errors.js';
import { StatesetError, type ErrorCode } from './errors.js';

export function parseWith<S extends z.ZodType>(schema: S, value: unknown, code: ErrorCode, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  // Each line reads "path: expected ..., got ..."; prefixed with `what` to say where it is.
  const problems = describeZodIssues(result.error, value, schema).map((line) =>
    line.startsWith('(top level)') ? `${what}${line.slice('(top level)'.length)}` : `${what}.${line}`,
  );
  throw new StatesetError(code, `invalid ${what}: ${problems.join('; ')}`, { cause: result.error });
}

/** `value` itself when it is an integer >= 1; `name` says where it came from in the message. */
export function positiveInteger(name: string, value: number, code: ErrorCode): number {
  if (!Number.isInteger(value) || value < 1) throw new StatesetError(code, `${name} must be a positive integer, got ${value}.`);
  return value;
}

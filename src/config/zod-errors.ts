/**
 * Turns a zod validation failure into one line per problem, each naming where it is and
 * what was wrong in the user's terms, e.g.
 *
 *   trainer.learningRate: expected a positive number, got "fast"
 *
 * Paths are dotted (list items by index, `rewards.0.weight`), the form `--set` accepts.
 */
import type { z } from 'zod';

type Issue = z.core.$ZodIssue;
type Key = PropertyKey;

/** The parts of a zod 4 schema definition this module reads. */
interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  in?: z.ZodType;
  element?: z.ZodType;
  valueType?: z.ZodType;
  items?: z.ZodType[];
  options?: z.ZodType[];
  getter?: () => z.ZodType;
  entries?: Record<string, unknown>;
  values?: unknown[];
  checks?: { _zod: { def: { check: string; value?: number; inclusive?: boolean; format?: string } } }[];
}

const defOf = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

const WRAPPERS = new Set(['optional', 'nullable', 'default', 'prefault', 'catch', 'readonly', 'nonoptional']);

function unwrap(schema: z.ZodType | undefined): z.ZodType | undefined {
  let current = schema;
  for (let i = 0; current && i < 20; i++) {
    const def = defOf(current);
    if (WRAPPERS.has(def.type)) current = def.innerType;
    else if (def.type === 'pipe') current = def.in;
    else if (def.type === 'lazy') current = def.getter?.();
    else return current;
  }
  return current;
}

/** The schema that validates the value at `path`, when it can be found without guessing. */
function schemaAt(root: z.ZodType | undefined, path: readonly Key[]): z.ZodType | undefined {
  let schema = unwrap(root);
  for (const key of path) {
    if (!schema) return undefined;
    const def = defOf(schema);
    if (def.type === 'object') schema = def.shape?.[String(key)];
    else if (def.type === 'array') schema = def.element;
    else if (def.type === 'record') schema = def.valueType;
    else if (def.type === 'tuple') schema = def.items?.[Number(key)];
    else return undefined;
    schema = unwrap(schema);
  }
  return schema;
}

const quoteAll = (values: readonly unknown[]) => values.map((v) => JSON.stringify(v)).join(', ');

function isInteger(schema: z.ZodType | undefined): boolean {
  const checks = schema && defOf(schema).type === 'number' ? (defOf(schema).checks ?? []) : [];
  return checks.some((c) => c._zod.def.check === 'number_format' && /int/.test(c._zod.def.format ?? ''));
}

/** "a number", "a positive integer", "a number <= 10". */
function numberPhrase(integer: boolean, bound?: { op: '>=' | '>' | '<=' | '<'; limit: number }): string {
  const noun = integer ? 'integer' : 'number';
  const article = integer ? 'an' : 'a';
  if (!bound) return `${article} ${noun}`;
  if (bound.limit === 0 && bound.op === '>') return `a positive ${noun}`;
  if (bound.limit === 0 && bound.op === '>=') return `a non-negative ${noun}`;
  return `${article} ${noun} ${bound.op} ${bound.limit}`;
}

/** "a positive integer", "a number", "one of "a", "b"" ... for a schema, when it says. */
function describeSchema(schema: z.ZodType | undefined): string | undefined {
  if (!schema) return undefined;
  const def = defOf(schema);
  if (def.type === 'number') {
    const lower = (def.checks ?? []).map((c) => c._zod.def).find((c) => c.check === 'greater_than');
    return numberPhrase(isInteger(schema), lower && { op: lower.inclusive ? '>=' : '>', limit: lower.value ?? 0 });
  }
  if (def.type === 'enum') return `one of ${quoteAll(Object.values(def.entries ?? {}))}`;
  if (def.type === 'literal') return (def.values ?? []).length === 1 ? JSON.stringify(def.values![0]) : `one of ${quoteAll(def.values ?? [])}`;
  return undefined;
}

const TYPE_NAMES: Record<string, string> = {
  number: 'a number',
  int: 'an integer',
  string: 'a string',
  boolean: 'true or false',
  object: 'an object (key: value pairs)',
  array: 'a list',
  record: 'an object (key: value pairs)',
  tuple: 'a list',
  null: 'null',
  bigint: 'an integer',
  date: 'a date',
  function: 'a function',
};

/** How the offending value reads in a message. */
function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing (the key is missing)';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'function') return 'a function';
  return String(value);
}

function valueAt(input: unknown, path: readonly Key[]): unknown {
  let value = input;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<Key, unknown>)[key];
  }
  return value;
}

function formatPath(path: readonly Key[]): string {
  return path.length === 0 ? '(top level)' : path.map(String).join('.');
}

function bound(issue: Extract<Issue, { code: 'too_small' | 'too_big' }>, integer: boolean): string {
  const small = issue.code === 'too_small';
  const limit = Number(small ? issue.minimum : issue.maximum);
  const inclusive = issue.inclusive !== false;
  const plural = limit === 1 ? '' : 's';
  if (issue.origin === 'string') return `a string of ${small ? 'at least' : 'at most'} ${limit} character${plural}`;
  if (issue.origin === 'array' || issue.origin === 'set') return `${small ? 'at least' : 'at most'} ${limit} item${plural}`;
  return numberPhrase(integer, { op: small ? (inclusive ? '>=' : '>') : inclusive ? '<=' : '<', limit });
}

function expectation(issue: Issue, schema: z.ZodType | undefined): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      return describeSchema(schemaAt(schema, issue.path)) ?? TYPE_NAMES[issue.expected] ?? issue.expected;
    case 'too_small':
    case 'too_big':
      return bound(issue, isInteger(schemaAt(schema, issue.path)));
    case 'invalid_value':
      return issue.values.length === 1 ? JSON.stringify(issue.values[0]) : `one of ${quoteAll(issue.values)}`;
    case 'invalid_format':
      return `a valid ${issue.format}`;
    case 'not_multiple_of':
      return `a multiple of ${issue.divisor}`;
    case 'invalid_union': {
      const union = schemaAt(schema, issue.path);
      const branches = union ? defOf(union).options : undefined;
      const options = issue.errors.map((branch, i) => (branch.length === 1 && branch[0].path.length === 0 ? expectation(branch[0], branches?.[i]) : undefined));
      return options.every((o) => o !== undefined) ? [...new Set(options)].join(' or ') : undefined;
    }
    default:
      return undefined;
  }
}

function describeIssue(issue: Issue, input: unknown, schema: z.ZodType | undefined): string {
  const where = formatPath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    const shape = schemaAt(schema, issue.path);
    const known = shape && defOf(shape).type === 'object' ? Object.keys(defOf(shape).shape ?? {}) : [];
    const plural = issue.keys.length > 1 ? 'keys' : 'key';
    const hint = known.length ? ` (known keys: ${known.join(', ')})` : '';
    return `${where}: unknown ${plural} ${quoteAll(issue.keys)}${hint}`;
  }
  const expected = expectation(issue, schema);
  if (expected === undefined) return `${where}: ${issue.message}`;
  return `${where}: expected ${expected}, got ${describeValue(valueAt(input, issue.path))}`;
}

/**
 * One line per problem. `input` is what was validated (to quote the bad values); `schema`
 * is optional and refines what was expected ("a positive number" rather than "a number").
 */
export function describeZodIssues(error: z.ZodError, input: unknown, schema?: z.ZodType): string[] {
  return error.issues.map((issue) => describeIssue(issue, input, schema));
}

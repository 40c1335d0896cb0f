/**
 * Turns a zod validation failure into one line per problem, each naming where it is and
 * what was wrong in the user's terms, e.g.
 *
 *   trainer.learningRate: expected a positive number, got "fast"
 *   trainer.generation.max_new_tokens: unknown key, did you mean "maxNewTokens"? (known keys: ...)
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
  /** The field of a discriminated union that picks the branch. */
  discriminator?: string;
  /** Set when the schema was given its own error message. */
  error?: unknown;
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

/**
 * The schema that validates the value at `path`, when it can be found without guessing.
 * `input` (the whole validated value) picks the branch of a union (see branchFor).
 */
function schemaAt(root: z.ZodType | undefined, path: readonly Key[], input?: unknown): z.ZodType | undefined {
  let schema = unwrap(root);
  let value = input;
  for (const key of path) {
    schema = unwrap(branchFor(schema, value, key));
    if (!schema) return undefined;
    const def = defOf(schema);
    if (def.type === 'object') schema = def.shape?.[String(key)];
    else if (def.type === 'array') schema = def.element;
    else if (def.type === 'record') schema = def.valueType;
    else if (def.type === 'tuple') schema = def.items?.[Number(key)];
    else return undefined;
    schema = unwrap(schema);
    value = isRecord(value) ? value[key as string] : undefined;
  }
  return unwrap(branchFor(schema, value));
}

/**
 * The branch of a union that validates `value`: the one whose discriminator accepts the
 * value's; else, for an object value, the object branch that knows `key` (the next path
 * step) or shares the most keys with it. `schema` itself when no branch stands out.
 */
function branchFor(schema: z.ZodType | undefined, value: unknown, key?: Key): z.ZodType | undefined {
  if (!schema || defOf(schema).type !== 'union') return schema;
  const def = defOf(schema);
  const options = (def.options ?? []).map((o) => unwrap(o)!).filter(Boolean);
  if (def.discriminator !== undefined) {
    const field = isRecord(value) ? value[def.discriminator] : undefined;
    return options.find((o) => defOf(o).shape?.[def.discriminator!]?.safeParse(field).success) ?? schema;
  }
  if (!isRecord(value) || Array.isArray(value)) return schema;
  const score = (o: z.ZodType) => {
    const shape = defOf(o).shape ?? {};
    return (key !== undefined && String(key) in shape ? 1000 : 0) + Object.keys(value).filter((k) => k in shape).length;
  };
  const ranked = options.filter((o) => defOf(o).type === 'object').map((o) => ({ o, score: score(o) })).sort((a, b) => b.score - a.score);
  const [best, next] = ranked;
  return best && best.score > 0 && best.score !== next?.score ? best.o : schema;
}

function isRecord(x: unknown): x is Record<Key, unknown> {
  return typeof x === 'object' && x !== null;
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

function expectation(issue: Issue, schema: z.ZodType | undefined, input: unknown): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      return describeSchema(schemaAt(schema, issue.path, input)) ?? TYPE_NAMES[issue.expected] ?? issue.expected;
    case 'too_small':
    case 'too_big':
      return bound(issue, isInteger(schemaAt(schema, issue.path, input)));
    case 'invalid_value':
      return issue.values.length === 1 ? JSON.stringify(issue.values[0]) : `one of ${quoteAll(issue.values)}`;
    case 'invalid_format':
      return `a valid ${issue.format}`;
    case 'not_multiple_of':
      return `a multiple of ${issue.divisor}`;
    case 'invalid_union': {
      // A discriminated union whose discriminator matched no branch: the values it takes.
      const discriminated = (issue as { options?: unknown[] }).options;
      if (discriminated) return `one of ${quoteAll(discriminated.filter((o) => o !== undefined && o !== null))}`;
      const union = schemaAt(schema, issue.path, input);
      const branches = union ? defOf(union).options : undefined;
      const options = issue.errors.map((branch, i) => (branch.length === 1 && branch[0].path.length === 0 ? expectation(branch[0], branches?.[i], undefined) : undefined));
      return options.every((o) => o !== undefined) ? [...new Set(options)].join(' or ') : undefined;
    }
    default:
      return undefined;
  }
}

/** One line per unknown key: its full path, the closest known key, and every known key. */
function describeUnknownKeys(issue: Extract<Issue, { code: 'unrecognized_keys' }>, input: unknown, schema: z.ZodType | undefined): string[] {
  const shape = schemaAt(schema, issue.path, input);
  const known = shape && defOf(shape).type === 'object' ? Object.keys(defOf(shape).shape ?? {}) : [];
  return issue.keys.map((key) => {
    const closest = closestKey(key, known);
    const suggestion = closest ? `, did you mean ${JSON.stringify(closest)}?` : '';
    const list = known.length ? ` (known keys: ${known.join(', ')})` : '';
    return `${formatPath([...issue.path, key])}: unknown key${suggestion}${list}`;
  });
}

/** Keys compare without case, `_` or `-`, so max_new_tokens finds maxNewTokens. */
const normalizeKey = (key: string) => key.toLowerCase().replace(/[_-]/g, '');

/** The known key nearest to `key` by edit distance, when it is near enough to be a misspelling. */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  const target = normalizeKey(key);
  let best: { key: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(target, normalizeKey(candidate));
    if (!best || distance < best.distance) best = { key: candidate, distance };
  }
  const allowed = Math.max(1, Math.floor(target.length / 3));
  return best && best.distance <= allowed ? best.key : undefined;
}

/** Edit distance in which swapping two neighbouring letters counts as one edit (optimal string alignment). */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

function describeIssue(issue: Issue, input: unknown, schema: z.ZodType | undefined): string[] {
  if (issue.code === 'unrecognized_keys') return describeUnknownKeys(issue, input, schema);
  const where = formatPath(issue.path);
  // A schema given its own message (e.g. "give either name or module") says it best.
  const own = schemaAt(schema, issue.path, input);
  if (own && defOf(own).error !== undefined) return [`${where}: ${issue.message}`];
  const expected = expectation(issue, schema, input);
  if (expected === undefined) return [`${where}: ${issue.message}`];
  return [`${where}: expected ${expected}, got ${describeValue(valueAt(input, issue.path))}`];
}

/**
 * One line per problem. `input` is what was validated (to quote the bad values); `schema`
 * is optional and refines what was expected ("a positive number" rather than "a number").
 */
export function describeZodIssues(error: z.ZodError, input: unknown, schema?: z.ZodType): string[] {
  return error.issues.flatMap((issue) => describeIssue(issue, input, schema));
}

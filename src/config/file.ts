/** Reads a config file: YAML (.yaml, .yml) or JSON (.json), whose top level is an object. */
import { readFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { StatesetError } from '../core/errors.js';

export function readConfigFile(file: string): Record<string, unknown> {
  const path = resolve(file);
  const ext = extname(path).toLowerCase();
  if (!['.yaml', '.yml', '.json'].includes(ext)) {
    throw new StatesetError('ERR_CONFIG_FILE', `${path}: unsupported config file type "${ext || '(none)'}"; use .yaml, .yml or .json`);
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (err as Error).message;
    throw new StatesetError('ERR_CONFIG_FILE', `${path}: ${reason}`, { cause: err });
  }
  const value = ext === '.json' ? parseJson(path, text) : parseYaml(path, text);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new StatesetError('ERR_INVALID_CONFIG', `${path}: the top level must be a mapping of keys to values, got ${Array.isArray(value) ? 'a list' : JSON.stringify(value ?? null)}`);
  }
  return value as Record<string, unknown>;
}

function parseJson(path: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new StatesetError('ERR_CONFIG_FILE', `${path}: invalid JSON: ${(err as Error).message}`, { cause: err });
  }
}

function parseYaml(path: string, text: string): unknown {
  const doc = parseDocument(text, { prettyErrors: true });
  const [first] = doc.errors;
  if (first) {
    const at = first.linePos ? `:${first.linePos[0].line}:${first.linePos[0].col}` : '';
    throw new StatesetError('ERR_CONFIG_FILE', `${path}${at}: invalid YAML: ${first.message.split('\n')[0]}`, { cause: first });
  }
  return doc.toJS();
}

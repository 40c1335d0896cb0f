/**
 * `--set key=value` overrides on top of a config file: dotted paths into nested objects
 * (list items by index, `rewards.0.weight=2`), values read as numbers, booleans, null or
 * JSON when they look like one, and as plain strings otherwise.
 */
import { StatesetError } from '../core/errors.js';

const NUMBER = /^[-+]?(\d+(\.\d*)?|\.\d+)(e[-+]?\d+)?$/i;
const FORBIDDEN_KEYS = new Set(['__proto__', 'prototype', 'constructor']);

/** `"3e-4"` → 3e-4, `"true"` → true, `"[1,2]"` → [1, 2], `"gpt2"` → "gpt2". */
export function parseOverrideValue(text: string, key = 'value'): unknown {
  const trimmed = text.trim();
  if (trimmed === 'true') return true;
  if (trimmed === 'false') return false;
  if (trimmed === 'null') return null;
  if (NUMBER.test(trimmed)) return Number(trimmed);
  if (/^[[{"]/.test(trimmed)) {
    try {
      return JSON.parse(trimmed);
    } catch (err) {
      throw new StatesetError(
        'ERR_INVALID_CONFIG',
        `--set ${key}: ${JSON.stringify(text)} starts like JSON but is not valid JSON (${(err as Error).message}); quote the whole value for the shell, e.g. --set '${key}=[1, 2]'`,
      );
    }
  }
  return text;
}

function splitOverride(override: string): { path: string[]; valueText: string } {
  const eq = override.indexOf('=');
  const key = eq < 0 ? '' : override.slice(0, eq).trim();
  if (!key) throw new StatesetError('ERR_INVALID_CONFIG', `--set ${JSON.stringify(override)}: expected key=value, e.g. --set trainer.learningRate=1e-5`);
  const path = key.split('.');
  if (path.some((part) => part === '')) throw new StatesetError('ERR_INVALID_CONFIG', `--set ${key}: the path has an empty part; write it as a.b.c`);
  const forbidden = path.find((part) => FORBIDDEN_KEYS.has(part));
  if (forbidden) throw new StatesetError('ERR_INVALID_CONFIG', `--set ${key}: "${forbidden}" cannot be used as a config key`);
  return { path, valueText: override.slice(eq + 1) };
}

/** A copy of `config` with each `key=value` applied in order; `config` is not changed. */
export function applyOverrides<T extends object>(config: T, overrides: readonly string[]): T {
  const result = structuredClone(config) as Record<string, unknown>;
  for (const override of overrides) {
    const { path, valueText } = splitOverride(override);
    const key = path.join('.');
    let node: Record<string, unknown> | unknown[] = result;
    for (let i = 0; i < path.length; i++) {
      const part = path[i];
      const last = i === path.length - 1;
      if (Array.isArray(node) && !/^\d+$/.test(part)) {
        throw new StatesetError('ERR_INVALID_CONFIG', `--set ${key}: ${path.slice(0, i).join('.')} is a list, so "${part}" must be an index (0, 1, ...)`);
      }
      if (Array.isArray(node) && Number(part) > node.length) {
        throw new StatesetError('ERR_INVALID_CONFIG', `--set ${key}: ${path.slice(0, i).join('.')} has ${node.length} items; use an index up to ${node.length} (${node.length} appends)`);
      }
      const container = node as Record<string, unknown>;
      if (last) {
        container[part] = parseOverrideValue(valueText, key);
        break;
      }
      const next = container[part];
      if (next === undefined) container[part] = {};
      else if (next === null || typeof next !== 'object') {
        throw new StatesetError('ERR_INVALID_CONFIG', `--set ${key}: ${path.slice(0, i + 1).join('.')} is ${JSON.stringify(next)}, not an object, so it has no "${path[i + 1]}"`);
      }
      node = container[part] as Record<string, unknown> | unknown[];
    }
  }
  return result as T;
}

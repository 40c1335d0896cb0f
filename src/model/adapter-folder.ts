/**
 * A LoRA adapter folder (PEFT layout) stands for its base model with the adapter on top:
 * `saveAdapter` records the base model's path in adapter_config.json
 * (`base_model_name_or_path`), and `loadModel` follows it, so a LoRA checkpoint can be
 * evaluated, chatted with or served like a whole model.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { fail } from '../core/errors.js';

const ADAPTER_CONFIG = 'adapter_config.json';

/** The base model of an adapter folder, or undefined when `path` is not one. */
export function adapterBase(path: string): string | undefined {
  const configPath = join(path, ADAPTER_CONFIG);
  if (!existsSync(configPath) || existsSync(join(path, 'config.json'))) return undefined;
  let base: unknown;
  try {
    base = JSON.parse(readFileSync(configPath, 'utf8')).base_model_name_or_path;
  } catch (err) {
    fail('ERR_INVALID_MODEL', `${configPath} is not valid JSON (${(err as Error).message}); save the adapter again.`);
  }
  if (typeof base !== 'string' || base === '') {
    fail('ERR_INVALID_MODEL', `${path} is a LoRA adapter that does not name its base model (base_model_name_or_path); load it with loadModel(base, { lora: { adapter: '${path}' } }).`);
  }
  const local = isAbsolute(base) ? base : resolve(path, base);
  if (!existsSync(local)) {
    fail('ERR_INVALID_MODEL', `${path} is a LoRA adapter of ${base}, which is not on this machine; load it with loadModel(base, { lora: { adapter: '${path}' } }).`);
  }
  return local;
}

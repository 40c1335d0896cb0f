/**
 * Which files of a Hub repo the engine reads (crates/rl-core/src/io/hf_folder.rs): the
 * config, the tokenizer, the chat template, the generation defaults and the safetensors
 * weights (one file, or the sharded index and its shards); or one GGUF file. Everything
 * else a repo holds (PyTorch .bin, ONNX, README, other quantizations) stays on the Hub.
 */
import { readFileSync } from 'node:fs';
import { StatesetError } from '../../core/errors.js';

export const SAFETENSORS = 'model.safetensors';
export const SAFETENSORS_INDEX = 'model.safetensors.index.json';
const REQUIRED = ['config.json', 'tokenizer.json'];
const OPTIONAL = ['tokenizer_config.json', 'generation_config.json', 'chat_template.jinja', 'chat_template.json'];

export interface RepoRef {
  repo: string;
  revision: string;
}

/**
 * The files to fetch from a repo holding `available`; the shards of a sharded model come
 * from its index (`shardsOf`) once the index is here.
 */
export function filesToFetch(ref: RepoRef, available: readonly string[], ggufFile?: string): string[] {
  const has = new Set(available);
  const where = `${ref.repo} (revision ${ref.revision})`;
  if (ggufFile !== undefined) {
    if (has.has(ggufFile)) return [ggufFile];
    throw new StatesetError('ERR_HUB_NO_WEIGHTS', `${where} has no file ${ggufFile}; ${ggufList(available) || 'it has no .gguf files'}.`);
  }
  const weights = has.has(SAFETENSORS) ? SAFETENSORS : has.has(SAFETENSORS_INDEX) ? SAFETENSORS_INDEX : undefined;
  if (weights === undefined) throw new StatesetError('ERR_HUB_NO_WEIGHTS', `${where} has no weights the engine reads: ${whatInstead(available)}`);
  const missing = REQUIRED.filter((f) => !has.has(f));
  if (missing.length > 0) {
    throw new StatesetError('ERR_HUB_NO_WEIGHTS', `${where} has no ${missing.join(' or ')}; the engine needs a transformers model repo with a fast tokenizer (tokenizer.json).`);
  }
  return [...REQUIRED, ...OPTIONAL.filter((f) => has.has(f)), weights];
}

/** The shard files a model.safetensors.index.json names, each checked against the repo's files. */
export function shardsOf(ref: RepoRef, indexPath: string, available: readonly string[]): string[] {
  let weightMap: unknown;
  try {
    weightMap = (JSON.parse(readFileSync(indexPath, 'utf8')) as { weight_map?: unknown }).weight_map;
  } catch (cause) {
    throw new StatesetError('ERR_HUB_NO_WEIGHTS', `${ref.repo}'s ${SAFETENSORS_INDEX} is not valid JSON: ${(cause as Error).message}`, { cause });
  }
  const shards = [...new Set(Object.values(typeof weightMap === 'object' && weightMap !== null ? weightMap : {}))];
  if (shards.length === 0 || !shards.every((s): s is string => typeof s === 'string')) {
    throw new StatesetError('ERR_HUB_NO_WEIGHTS', `${ref.repo}'s ${SAFETENSORS_INDEX} has no weight_map naming its shard files.`);
  }
  const has = new Set(available);
  const absent = shards.filter((s) => !has.has(s));
  if (absent.length > 0) throw new StatesetError('ERR_HUB_NO_WEIGHTS', `${ref.repo}'s ${SAFETENSORS_INDEX} names shards the repo does not have: ${absent.join(', ')}.`);
  return shards.sort();
}

function ggufList(available: readonly string[]): string {
  const gguf = available.filter((f) => f.toLowerCase().endsWith('.gguf'));
  return gguf.length > 0 ? `its .gguf files: ${gguf.join(', ')}` : '';
}

/** What the repo has instead of safetensors, and what to do about it. */
function whatInstead(available: readonly string[]): string {
  const gguf = ggufList(available);
  if (gguf) return `no safetensors, but ${gguf}; pick one with --gguf-file FILE (ggufFile in TypeScript or a config file).`;
  const other = available.filter((f) => /\.(bin|pt|pth|h5|msgpack|onnx|ckpt)$/i.test(f));
  if (other.length > 0) return `only ${other.join(', ')}; the engine reads safetensors or GGUF (convert with transformers: model.save_pretrained(dir, safe_serialization=True)).`;
  return `no model.safetensors, ${SAFETENSORS_INDEX} or .gguf file (is it a model repo?).`;
}

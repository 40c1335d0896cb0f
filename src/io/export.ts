/**
 * GGUF export: a model (a checkpoint, a LoRA adapter merged into its base, any model folder
 * or .gguf file) as one .gguf file that llama.cpp and Ollama run with no other file: the
 * weights in llama.cpp's layout, the tokenizer, special tokens and chat template in its
 * metadata. The writing happens in the native core (crates/rl-core/src/io/gguf_export.rs).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fail } from '../core/errors.js';
import { callNativeAsync, native } from '../native.js';
import { adapterBase } from '../model/adapter-folder.js';

export const GGUF_TYPES = ['f16', 'q8_0', 'f32'] as const;

/** How the matrices are stored: f16 (llama.cpp's converter default), q8_0 (about half of f16), f32. */
export type GgufType = (typeof GGUF_TYPES)[number];

export interface ExportGgufOptions {
  /**
   * A model folder, a LoRA adapter folder (merged into the base its adapter_config.json
   * names), a checkpoint folder (its model/ or adapter/), or a .gguf file.
   */
  model: string;
  /** The .gguf file to write; its folder is created if missing. */
  to: string;
  /** Default 'f16'. */
  type?: GgufType;
  /** `general.name`, which llama.cpp and Ollama show. Default: from the model's path. */
  name?: string;
}

export interface GgufExport {
  /** The file written (absolute). */
  path: string;
  /** llama.cpp's architecture: 'llama', 'qwen2' or 'gpt2'. */
  architecture: string;
  type: GgufType;
  /** llama.cpp's name of the tokenizer's pre-tokenizer ('gpt-2', 'smollm', 'llama-bpe', 'qwen2'). */
  tokenizerPre: string;
  tensors: number;
  /** Size of the file. */
  bytes: number;
  /** Matrices a q8_0 export stores as f16, their rows not being a multiple of 32 values. */
  f16Fallbacks: string[];
  /** The LoRA adapter folder merged into the base, if any. */
  adapter?: string;
}

/** Writes the model as a GGUF file. An interrupted export leaves no partial file behind. */
export async function exportGguf(options: ExportGgufOptions): Promise<GgufExport> {
  const { model, to } = options;
  if (typeof model !== 'string' || model === '') fail('ERR_INVALID_ARGUMENT', 'exportGguf needs `model`: a model folder, LoRA adapter folder, checkpoint folder or .gguf file');
  if (typeof to !== 'string' || to === '') fail('ERR_INVALID_ARGUMENT', 'exportGguf needs `to`: the .gguf file to write');
  const type = options.type ?? 'f16';
  if (!GGUF_TYPES.includes(type)) fail('ERR_INVALID_ARGUMENT', `type must be one of ${GGUF_TYPES.join(', ')}, got ${String(type)}`);
  const source = modelInCheckpoint(resolve(model));
  if (!existsSync(source)) fail('ERR_INVALID_MODEL', `${source} does not exist; pass a model folder, LoRA adapter folder, checkpoint folder or .gguf file`);
  const base = adapterBase(source);
  const path = resolve(to);
  mkdirSync(dirname(path), { recursive: true });
  const adapter = base === undefined ? undefined : source;
  const name = options.name ?? defaultName(source);
  const out = await callNativeAsync(() => native.exportGguf({ model: base ?? source, adapter, to: path, tensorType: type, name }));
  return { path, type, ...out, ...(adapter ? { adapter } : {}) };
}

/** A checkpoint folder holds the model in model/ (full fine-tuning) or adapter/ (LoRA). */
function modelInCheckpoint(path: string): string {
  for (const [part, marker] of [['model', 'config.json'], ['adapter', 'adapter_config.json']]) {
    if (existsSync(join(path, part, marker))) return join(path, part);
  }
  return path;
}

/** RUN/checkpoints/step-N/model is named "RUN-step-N"; any other path by its last part. */
function defaultName(path: string): string {
  const step = basename(dirname(path));
  const run = basename(dirname(dirname(dirname(path))));
  if (/^step-\d+$/.test(step) && basename(dirname(dirname(path))) === 'checkpoints' && run !== '') return `${run}-${step}`;
  return basename(path).replace(/\.gguf$/, '');
}

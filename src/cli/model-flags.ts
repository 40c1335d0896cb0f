/**
 * The flags that name a model on the command line: `--model` (a folder, a .gguf file or a
 * Hub id such as Qwen/Qwen2.5-0.5B-Instruct), `--revision` and `--gguf-file` for Hub ids.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { modelSource } from '../agent/config.js';
import { localOrHubId, type ModelSource } from '../io/hub/resolve.js';

export interface ModelFlags {
  model: string;
  revision?: string;
  ggufFile?: string;
}

export function addHubFlags(command: Command): Command {
  return command
    .option('--revision <rev>', "a Hub model's branch, tag or commit (default main)")
    .option('--gguf-file <file>', 'the file to load from a Hub repo of GGUF files');
}

/** The model the flags name, a relative path taken from the working folder. */
export function modelFromFlags(flags: ModelFlags): { model: string } & ModelSource {
  return { model: localOrHubId(flags.model, resolve('.')), ...modelSource(flags) };
}

/**
 * `model: tiny` in a config file: a tiny random model (see makeTinyModel) made once into
 * a cache folder, so the demo and tests run on a fresh clone with no model download.
 * `tiny` is a Llama-shaped model; `tiny:gpt2` a GPT-2 one.
 */
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { makeTinyModel } from '../io/models.js';

const TINY = /^tiny(?::(llama|gpt2))?$/;

/** STATESET_CACHE, else ~/.cache/stateset-agents. */
export function cacheDir(): string {
  return process.env.STATESET_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'stateset-agents');
}

export function isTinyModelName(model: string): boolean {
  return TINY.test(model);
}

/** The folder of the named tiny model, written (atomically) on first use. */
export function tinyModelPath(model: string): string {
  const arch = (TINY.exec(model)?.[1] ?? 'llama') as 'llama' | 'gpt2';
  const dir = join(cacheDir(), `tiny-${arch}-seed0`);
  if (!existsSync(join(dir, 'config.json'))) {
    mkdirSync(cacheDir(), { recursive: true });
    const temp = `${dir}.tmp-${process.pid}`;
    rmSync(temp, { recursive: true, force: true });
    makeTinyModel({ arch, outDir: temp, seed: 0 });
    if (!existsSync(join(dir, 'config.json'))) {
      rmSync(dir, { recursive: true, force: true });
      renameSync(temp, dir);
    } else rmSync(temp, { recursive: true, force: true });
  }
  return dir;
}

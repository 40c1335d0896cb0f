/**
 * The run folder: config.json (the resolved config), metrics.jsonl, eval.jsonl,
 * samples.jsonl, tensorboard/ and checkpoints/. A fresh run refuses a folder that already
 * holds one; a resumed run cuts the JSONL logs back to its checkpoint's step, so the steps
 * it runs again are not logged twice.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StatesetError } from '../core/errors.js';
import type { CheckpointStore } from './checkpoint-store.js';

export const RUN_FILES = { config: 'config.json', metrics: 'metrics.jsonl', eval: 'eval.jsonl', samples: 'samples.jsonl' } as const;

/** Fails unless `dir` is free for a new run (absent, or without a config.json). */
export function checkFreshRunFolder(dir: string): void {
  if (existsSync(join(dir, RUN_FILES.config))) {
    throw new StatesetError('ERR_INVALID_ARGUMENT', `${dir} already holds a run (it has ${RUN_FILES.config}): continue it with --resume ${dir}, or choose another --out folder.`);
  }
  mkdirSync(dir, { recursive: true });
}

export function writeRunConfig(dir: string, config: Record<string, unknown>): void {
  writeFileSync(join(dir, RUN_FILES.config), JSON.stringify(config, null, 2) + '\n');
}

export function readRunConfig(dir: string): Record<string, unknown> {
  const path = join(dir, RUN_FILES.config);
  if (!existsSync(path)) throw new StatesetError('ERR_INVALID_CHECKPOINT', `${dir} is not a run folder: it has no ${RUN_FILES.config}.`);
  return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
}

/** The newest complete checkpoint of the run in `dir`, or a clear error when there is none. */
export function latestCheckpoint(dir: string, store: CheckpointStore) {
  const latest = store.latest();
  if (!latest) {
    throw new StatesetError('ERR_INVALID_CHECKPOINT', `nothing to resume in ${dir}: ${store.root} holds no complete checkpoint. Start a fresh run with --out instead.`);
  }
  return latest;
}

/** Drops the lines of the run's JSONL logs whose step is past `step` (and any torn last line). */
export function truncateLogs(dir: string, step: number): void {
  for (const name of [RUN_FILES.metrics, RUN_FILES.eval, RUN_FILES.samples]) {
    const path = join(dir, name);
    if (!existsSync(path)) continue;
    const kept = readFileSync(path, 'utf8')
      .split('\n')
      .filter((line) => {
        try {
          return line !== '' && (JSON.parse(line) as { step: number }).step <= step;
        } catch {
          return false;
        }
      });
    writeFileSync(path, kept.map((line) => line + '\n').join(''));
  }
}

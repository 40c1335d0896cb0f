/**
 * The run folder: config.json (the resolved config), metrics.jsonl, eval.jsonl,
 * samples.jsonl, tensorboard/ and checkpoints/. A fresh run refuses a folder whose run has
 * a complete checkpoint (that run is resumed instead) and reuses one whose run stopped
 * before its first checkpoint; a resumed run cuts the JSONL logs back to its checkpoint's
 * step, so the steps it runs again are not logged twice.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StatesetError } from '../core/errors.js';
import type { CheckpointStore } from './checkpoint-store.js';

export const RUN_FILES = { config: 'config.json', metrics: 'metrics.jsonl', eval: 'eval.jsonl', samples: 'samples.jsonl', tensorboard: 'tensorboard' } as const;

/**
 * Makes `dir` ready for a fresh run. A folder whose run has a complete checkpoint is
 * refused: resume it, or choose another folder. A folder whose run stopped before its first
 * checkpoint holds nothing to resume, so the fresh run reuses it: `notice` says so and the
 * old run's logs are cleared.
 */
export function prepareFreshRunFolder(dir: string, store: CheckpointStore, notice: (line: string) => void): void {
  if (existsSync(join(dir, RUN_FILES.config))) {
    const latest = store.latest();
    if (latest) {
      throw new StatesetError(
        'ERR_INVALID_ARGUMENT',
        `${dir} already holds a run with a checkpoint at step ${latest.step}: continue it with --resume ${dir} (resume: true), or choose another --out folder.`,
      );
    }
    notice(`${dir} holds a run that stopped before its first checkpoint: starting afresh in it (its logs are replaced).`);
    truncateLogs(dir, 0);
    removeEventFiles(join(dir, RUN_FILES.tensorboard));
  }
  mkdirSync(dir, { recursive: true });
}

/** TensorBoard event files of an abandoned run, which would otherwise show beside the new one's. */
function removeEventFiles(dir: string): void {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) {
    if (name.startsWith('events.out.tfevents')) rmSync(join(dir, name), { force: true });
  }
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
    const hint = existsSync(join(dir, RUN_FILES.config))
      ? `the run stopped before its first checkpoint. Start it afresh in the same folder (--out ${dir} without --resume; resume: false), which reuses it.`
      : `it holds no run. Start a fresh run with --out ${dir} instead.`;
    throw new StatesetError('ERR_INVALID_CHECKPOINT', `nothing to resume in ${dir}: ${store.root} holds no complete checkpoint; ${hint}`);
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

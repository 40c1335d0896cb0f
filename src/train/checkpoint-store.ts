/**
 * Checkpoint folders that are either complete or absent, whatever moment the process dies:
 *
 *   <run>/checkpoints/.tmp-step-N-<pid>/   written and fsynced first
 *   <run>/checkpoints/step-N/              renamed into place: the rename is the commit
 *
 * A COMPLETE marker written last inside the folder double-checks it (a folder copied by
 * hand, or a file system without atomic rename, can leave a step-N without it). Readers
 * only trust `step-N` folders with the marker; temp folders of dead processes are removed
 * by the next save.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StatesetError } from '../core/errors.js';

export const COMPLETE_MARKER = 'COMPLETE';

export interface CheckpointInfo {
  step: number;
  dir: string;
}

export interface CheckpointStoreOptions {
  /** Keep only the newest N complete checkpoints (default: keep all). */
  keepLast?: number;
}

const COMMITTED = /^step-(\d+)$/;
const TEMP = /^\.tmp-(?:replaced-)?step-\d+-(\d+)$/;

function fsyncPath(path: string): void {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    // Windows cannot open a directory for fsync; its renames are durable without it.
    if (process.platform === 'win32') return;
    throw err;
  }
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Flushes every file and folder under `dir` to disk, deepest first. */
function fsyncTree(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) fsyncTree(path);
    else if (entry.isFile()) fsyncPath(path);
  }
  fsyncPath(dir);
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class CheckpointStore {
  /** `<runDir>/checkpoints`. */
  readonly root: string;
  private readonly keepLast: number | undefined;

  constructor(runDir: string, options: CheckpointStoreOptions = {}) {
    if (options.keepLast !== undefined && !(Number.isInteger(options.keepLast) && options.keepLast >= 1)) {
      throw new StatesetError('ERR_INVALID_ARGUMENT', `keepLast must be a positive integer, got ${options.keepLast}`);
    }
    this.root = join(runDir, 'checkpoints');
    this.keepLast = options.keepLast;
  }

  /**
   * Runs `write(dir)` to fill a fresh temp folder, then commits it as `step-N` and prunes
   * old checkpoints. Saving a step that exists replaces it.
   */
  async save(step: number, write: (dir: string) => void | Promise<void>): Promise<CheckpointInfo> {
    if (!Number.isSafeInteger(step) || step < 0) {
      throw new StatesetError('ERR_INVALID_ARGUMENT', `checkpoint step must be a non-negative integer, got ${step}`);
    }
    mkdirSync(this.root, { recursive: true });
    this.removeAbandonedTemps();
    const temp = join(this.root, `.tmp-step-${step}-${process.pid}`);
    const final = join(this.root, `step-${step}`);
    rmSync(temp, { recursive: true, force: true });
    mkdirSync(temp);
    try {
      await write(temp);
      writeFileSync(join(temp, COMPLETE_MARKER), JSON.stringify({ step, savedAt: new Date().toISOString() }) + '\n');
      fsyncTree(temp);
      if (existsSync(final)) {
        // rename cannot replace a non-empty folder: move the old one aside first.
        const replaced = join(this.root, `.tmp-replaced-step-${step}-${process.pid}`);
        renameSync(final, replaced);
        renameSync(temp, final);
        rmSync(replaced, { recursive: true, force: true });
      } else {
        renameSync(temp, final);
      }
      fsyncPath(this.root);
    } catch (err) {
      rmSync(temp, { recursive: true, force: true });
      if (err instanceof StatesetError) throw err;
      throw new StatesetError('ERR_CHECKPOINT_WRITE', `could not save the checkpoint for step ${step} in ${this.root}: ${(err as Error).message}`, { cause: err });
    }
    this.prune();
    return { step, dir: final };
  }

  /** Complete checkpoints, oldest first. */
  list(): CheckpointInfo[] {
    if (!existsSync(this.root)) return [];
    return readdirSync(this.root, { withFileTypes: true })
      .flatMap((entry) => {
        const match = entry.isDirectory() ? COMMITTED.exec(entry.name) : null;
        const dir = join(this.root, entry.name);
        return match && existsSync(join(dir, COMPLETE_MARKER)) ? [{ step: Number(match[1]), dir }] : [];
      })
      .sort((a, b) => a.step - b.step);
  }

  /** The newest complete checkpoint, the one to resume from. */
  latest(): CheckpointInfo | undefined {
    return this.list().at(-1);
  }

  private prune(): void {
    if (this.keepLast === undefined) return;
    const complete = this.list();
    for (const old of complete.slice(0, Math.max(0, complete.length - this.keepLast))) {
      rmSync(old.dir, { recursive: true, force: true });
    }
  }

  /** Temp folders left by processes that died mid-save. */
  private removeAbandonedTemps(): void {
    for (const name of readdirSync(this.root)) {
      const match = TEMP.exec(name);
      if (match && Number(match[1]) !== process.pid && !processIsAlive(Number(match[1]))) {
        rmSync(join(this.root, name), { recursive: true, force: true });
      }
    }
  }
}

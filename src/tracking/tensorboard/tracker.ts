/**
 * Writes metrics as a TensorBoard event file (`events.out.tfevents.<time>.<host>`), so
 * `tensorboard --logdir <run>/tensorboard` plots a run with no Python in the training path.
 * Training metrics are tagged `train/<name>`, evaluation metrics `eval/<name>`.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { StatesetError } from '../../core/errors.js';
import type { Metrics, Tracker } from '../tracker.js';
import { fileVersionEvent, scalarsEvent, tfRecord } from './event.js';

export class TensorBoardTracker implements Tracker {
  /** The event file being written. */
  readonly file: string;
  private fd: number | undefined;

  constructor(logDir: string) {
    mkdirSync(logDir, { recursive: true });
    const now = Date.now() / 1000;
    this.file = join(logDir, `events.out.tfevents.${Math.floor(now)}.${hostname()}.${process.pid}`);
    this.fd = openSync(this.file, 'a');
    this.write(fileVersionEvent(now));
  }

  logMetrics(step: number, metrics: Metrics): void {
    this.writeScalars('train', step, metrics);
  }

  logEval(step: number, metrics: Metrics): void {
    this.writeScalars('eval', step, metrics);
  }

  close(): void {
    if (this.fd === undefined) return;
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = undefined;
  }

  private writeScalars(prefix: string, step: number, metrics: Metrics): void {
    if (!Number.isSafeInteger(step) || step < 0) {
      throw new StatesetError('ERR_INVALID_ARGUMENT', `step must be a non-negative integer, got ${step}`);
    }
    const scalars: Record<string, number> = {};
    for (const [name, value] of Object.entries(metrics)) scalars[`${prefix}/${name}`] = value;
    this.write(scalarsEvent(Date.now() / 1000, step, scalars));
  }

  private write(event: Uint8Array): void {
    if (this.fd === undefined) throw new StatesetError('ERR_TRACKER', `the TensorBoard file ${this.file} is already closed`);
    writeSync(this.fd, tfRecord(event));
  }
}

/**
 * The trackers of a run: JSONL files in the run folder always (their failure stops the
 * run: they are the record), and optionally the console, TensorBoard and W&B (each behind
 * a SafeTracker, so a failing one warns once and training goes on), plus the caller's own.
 */
import { join } from 'node:path';
import { ConsoleTracker } from '../tracking/console.js';
import { JsonlTracker } from '../tracking/jsonl.js';
import { SafeTracker } from '../tracking/safe.js';
import { TensorBoardTracker } from '../tracking/tensorboard/tracker.js';
import { combineTrackers, type Tracker } from '../tracking/tracker.js';
import { WandbTracker, type WandbOptions } from '../tracking/wandb.js';
import { RUN_FILES } from './run-folder.js';

export interface TrackingOptions {
  /** Progress on the terminal: a live bar, or plain lines with `quiet` or off a terminal. Default on. */
  console?: boolean | { quiet?: boolean };
  /** Event files under <run>/tensorboard. Default on. */
  tensorboard?: boolean;
  /** Weights & Biases, when given. */
  wandb?: WandbOptions;
  /** More trackers of the caller's. */
  trackers?: Tracker[];
  /** Where the one warning of a failed optional tracker goes. Default console.warn. */
  warn?: (message: string) => void;
}

export function runTrackers(runDir: string, totalSteps: number, options: TrackingOptions, config: Record<string, unknown>): Tracker {
  const optional: Array<[string, () => Tracker]> = [];
  if (options.console ?? true) {
    const quiet = typeof options.console === 'object' ? options.console.quiet : false;
    optional.push(['console', () => consoleProgress(new ConsoleTracker({ totalSteps, quiet }))]);
  }
  if (options.tensorboard ?? true) optional.push(['tensorboard', () => new TensorBoardTracker(join(runDir, RUN_FILES.tensorboard))]);
  if (options.wandb) optional.push(['wandb', () => new WandbTracker({ config, ...options.wandb! })]);
  (options.trackers ?? []).forEach((tracker, i) => optional.push([`trackers[${i}]`, () => tracker]));
  const safe = optional.map(([name, make]) => new SafeTracker(lazy(make), { name, warn: options.warn }));
  return combineTrackers([new JsonlTracker(runDir), ...safe]);
}

/** The console shows `reward` and `kl`: give it the trainer's reward_mean under that name. */
function consoleProgress(tracker: ConsoleTracker): Tracker {
  return {
    logMetrics: (step, metrics) => tracker.logMetrics(step, { reward: metrics.reward_mean, ...(metrics.kl === undefined ? {} : { kl: metrics.kl }) }),
    logEval: (step, metrics) => tracker.logEval(step, metrics),
    close: () => tracker.close(),
  };
}

/** A tracker built on first use, so that a constructor that throws (no W&B key) is one warning too. */
function lazy(make: () => Tracker): Tracker {
  let tracker: Tracker | undefined;
  const get = () => (tracker ??= make());
  return {
    logMetrics: (step, metrics) => get().logMetrics(step, metrics),
    logEval: (step, metrics) => get().logEval?.(step, metrics),
    logSamples: (step, samples) => get().logSamples?.(step, samples),
    close: () => tracker?.close(),
  };
}

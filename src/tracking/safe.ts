/**
 * Keeps an optional tracker from stopping training: the first error (no network, bad key,
 * a bug) is reported once as a warning, the tracker is switched off, and every later call
 * returns at once. Files the project writes itself (JSONL, checkpoints) are not wrapped:
 * losing them should stop the run.
 */
import type { Metrics, Sample, Tracker } from './tracker.js';

export interface SafeTrackerOptions {
  /** Names the tracker in the warning, e.g. "wandb". */
  name: string;
  /** Where the one warning goes; defaults to console.warn. */
  warn?: (message: string) => void;
}

export class SafeTracker implements Tracker {
  private failed = false;
  private readonly warn: (message: string) => void;

  constructor(
    private readonly inner: Tracker,
    private readonly options: SafeTrackerOptions,
  ) {
    this.warn = options.warn ?? ((message) => console.warn(message));
  }

  /** True once the wrapped tracker has failed and been switched off. */
  get disabled(): boolean {
    return this.failed;
  }

  logMetrics(step: number, metrics: Metrics): Promise<void> {
    return this.guard(() => this.inner.logMetrics(step, metrics));
  }

  logEval(step: number, metrics: Metrics): Promise<void> {
    return this.guard(() => this.inner.logEval?.(step, metrics));
  }

  logSamples(step: number, samples: Sample[]): Promise<void> {
    return this.guard(() => this.inner.logSamples?.(step, samples));
  }

  close(): Promise<void> {
    return this.guard(() => this.inner.close());
  }

  private async guard(call: () => void | Promise<void>): Promise<void> {
    if (this.failed) return;
    try {
      await call();
    } catch (err) {
      this.failed = true;
      const reason = err instanceof Error ? err.message : String(err);
      this.warn(`warning: the ${this.options.name} tracker failed and is now off; training goes on. Cause: ${reason}`);
    }
  }
}

/**
 * What the trainer reports while it runs. Every destination (files, console, TensorBoard,
 * Weights & Biases) implements `Tracker`; the trainer awaits each call, so a tracker may
 * write synchronously or return a promise.
 */

/** Scalar metrics of one step, e.g. `{ reward: 0.42, kl: 0.003, loss: 1.2 }`. */
export type Metrics = Record<string, number>;

/** One generated conversation kept for inspection, with its reward. */
export interface Sample {
  prompt: string;
  completion: string;
  reward?: number;
  /** Anything else worth keeping beside the sample (reward breakdown, episode id, ...). */
  extra?: Record<string, unknown>;
}

export interface Tracker {
  logMetrics(step: number, metrics: Metrics): void | Promise<void>;
  /** Metrics of an evaluation run at `step`, kept apart from training metrics. */
  logEval?(step: number, metrics: Metrics): void | Promise<void>;
  logSamples?(step: number, samples: Sample[]): void | Promise<void>;
  /** Flushes and releases everything; the tracker is not used afterwards. */
  close(): void | Promise<void>;
}

/** One tracker that forwards every call to each of `trackers`, in order. */
export function combineTrackers(trackers: Tracker[]): Tracker {
  return {
    async logMetrics(step, metrics) {
      for (const t of trackers) await t.logMetrics(step, metrics);
    },
    async logEval(step, metrics) {
      for (const t of trackers) await t.logEval?.(step, metrics);
    },
    async logSamples(step, samples) {
      for (const t of trackers) await t.logSamples?.(step, samples);
    },
    async close() {
      for (const t of trackers) await t.close();
    },
  };
}

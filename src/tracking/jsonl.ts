/**
 * Always-on tracking into the run folder: metrics.jsonl, eval.jsonl and samples.jsonl,
 * one JSON object per line. Each line goes to the file in one write call, so a crash of
 * the process loses at most the line being written; `close` also fsyncs, for power loss.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Metrics, Sample, Tracker } from './tracker.js';

type Stream = 'metrics' | 'eval' | 'samples';

/** JSON has no NaN or Infinity; a diverging loss is worth keeping, so they become strings. */
function keepNonFinite(_key: string, value: unknown): unknown {
  return typeof value === 'number' && !Number.isFinite(value) ? String(value) : value;
}

export class JsonlTracker implements Tracker {
  private readonly fds = new Map<Stream, number>();

  constructor(readonly runDir: string) {
    mkdirSync(runDir, { recursive: true });
  }

  logMetrics(step: number, metrics: Metrics): void {
    this.append('metrics', { step, time: Date.now() / 1000, ...metrics });
  }

  logEval(step: number, metrics: Metrics): void {
    this.append('eval', { step, time: Date.now() / 1000, ...metrics });
  }

  logSamples(step: number, samples: Sample[]): void {
    for (const sample of samples) this.append('samples', { step, ...sample });
  }

  close(): void {
    for (const fd of this.fds.values()) {
      fsyncSync(fd);
      closeSync(fd);
    }
    this.fds.clear();
  }

  private append(stream: Stream, record: Record<string, unknown>): void {
    let fd = this.fds.get(stream);
    if (fd === undefined) {
      fd = openSync(join(this.runDir, `${stream}.jsonl`), 'a');
      this.fds.set(stream, fd);
    }
    writeSync(fd, JSON.stringify(record, keepNonFinite) + '\n');
  }
}

/**
 * Progress on the terminal: a live bar (step/total, ETA, reward, KL) when the output is a
 * terminal, and one plain line per step when it is not (logs, CI) or when `quiet` is set,
 * since redrawn bars turn into noise in a file.
 */
import { MultiBar, type SingleBar } from 'cli-progress';
import { StatesetError } from '../core/errors.js';
import type { Metrics, Tracker } from './tracker.js';

export interface ConsoleTrackerOptions {
  /** The step the run ends at; the bar and ETA need it. */
  totalSteps: number;
  /** Plain lines instead of a live bar, even on a terminal. */
  quiet?: boolean;
  /** Defaults to process.stdout. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
}

/** Short, readable numbers: 4 significant digits, '-' when a metric was not reported. */
function show(value: number | undefined): string {
  return value === undefined ? '-' : String(Number(value.toPrecision(4)));
}

function showDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '-';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export class ConsoleTracker implements Tracker {
  private readonly stream: NodeJS.WritableStream & { isTTY?: boolean };
  private readonly bars: MultiBar | undefined;
  private bar: SingleBar | undefined;
  /** Where ETA is measured from: the first step this process logged (a resumed run starts late). */
  private first: { step: number; time: number } | undefined;

  constructor(private readonly options: ConsoleTrackerOptions) {
    if (!(Number.isSafeInteger(options.totalSteps) && options.totalSteps > 0)) {
      throw new StatesetError('ERR_INVALID_ARGUMENT', `totalSteps must be a positive integer, got ${options.totalSteps}`);
    }
    this.stream = options.stream ?? process.stdout;
    if (this.stream.isTTY && !options.quiet) {
      this.bars = new MultiBar({
        stream: this.stream as NodeJS.WriteStream,
        format: '{bar} {value}/{total} | ETA {eta_formatted} | reward {reward} | kl {kl}',
        hideCursor: true,
      });
    }
  }

  logMetrics(step: number, metrics: Metrics): void {
    const shown = { reward: show(metrics.reward), kl: show(metrics.kl) };
    if (this.bars) {
      this.bar ??= this.bars.create(this.options.totalSteps, step, shown);
      this.bar.update(step, shown);
      return;
    }
    const now = Date.now() / 1000;
    this.first ??= { step, time: now };
    const done = step - this.first.step;
    const eta = done > 0 ? ((now - this.first.time) / done) * (this.options.totalSteps - step) : NaN;
    this.line(`step ${step}/${this.options.totalSteps} | reward ${shown.reward} | kl ${shown.kl} | ETA ${showDuration(eta)}`);
  }

  logEval(step: number, metrics: Metrics): void {
    const parts = Object.entries(metrics).map(([name, value]) => `${name} ${show(value)}`);
    this.line(`eval at step ${step} | ${parts.join(' | ')}`);
  }

  close(): void {
    this.bars?.stop();
  }

  private line(text: string): void {
    if (this.bars) {
      // The bar prints logged lines above itself at its next redraw: redraw now.
      this.bars.log(`${text}\n`);
      this.bars.update();
    } else this.stream.write(`${text}\n`);
  }
}

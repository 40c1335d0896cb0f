/**
 * Running mean and variance over a whole run (Welford), for reward normalization.
 * Mergeable: statistics gathered by separate workers combine exactly (Chan et al.).
 * Plain numbers, so the state goes into checkpoints as JSON.
 */
import { callNative, native } from '../native.js';
import { toFloat32 } from './inputs.js';

export interface RunningMeanStdState {
  count: number;
  mean: number;
  /** Sum of squared deviations from the mean. */
  m2: number;
}

export class RunningMeanStd {
  count = 0;
  mean = 0;
  m2 = 0;

  static fromJSON(state: RunningMeanStdState): RunningMeanStd {
    const r = new RunningMeanStd();
    Object.assign(r, { count: state.count, mean: state.mean, m2: state.m2 });
    return r;
  }

  /** Adds a batch of values; NaN and infinities are skipped (they mean "missing"). */
  update(values: Float32Array | number[]): this {
    const [count, mean, m2] = callNative(() => native.runningStats(toFloat32('values', values)));
    return this.merge({ count, mean, m2 });
  }

  merge(other: RunningMeanStdState): this {
    if (other.count === 0) return this;
    const count = this.count + other.count;
    const delta = other.mean - this.mean;
    this.mean += (delta * other.count) / count;
    this.m2 += other.m2 + (delta * delta * this.count * other.count) / count;
    this.count = count;
    return this;
  }

  /** Population variance (divide by n). */
  get variance(): number {
    return this.count > 0 ? this.m2 / this.count : 0;
  }

  /** Sample variance (divide by n - 1). */
  get sampleVariance(): number {
    return this.count > 1 ? this.m2 / (this.count - 1) : 0;
  }

  get std(): number {
    return Math.sqrt(this.variance);
  }

  /** (x - mean) / sqrt(variance + eps). */
  normalize(x: number, eps = 1e-8): number {
    return (x - this.mean) / Math.sqrt(this.variance + eps);
  }

  toJSON(): RunningMeanStdState {
    return { count: this.count, mean: this.mean, m2: this.m2 };
  }
}

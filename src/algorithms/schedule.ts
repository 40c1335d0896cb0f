/**
 * Learning-rate schedules, computed by the native core (the same function the optimizer
 * steps with), so that what the trainer logs is what it used.
 */
import { fail } from '../core/errors.js';
import { callNative, native } from '../native.js';

export interface LearningRateSchedule {
  kind: 'constant' | 'linear' | 'cosine';
  /** Peak learning rate, reached at the end of warmup. */
  lr: number;
  /** Linear warmup from lr / (warmupSteps + 1) at step 0 to lr at step warmupSteps. Default 0. */
  warmupSteps?: number;
  /** Where linear and cosine decay end; required by them, unused by 'constant'. */
  totalSteps?: number;
  /** The decay ends at lr * minLrRatio. Default 0. */
  minLrRatio?: number;
}

/** The learning rate of optimizer update number `step` (0-based). */
export function learningRate(schedule: LearningRateSchedule, step: number): number {
  if (schedule === null || typeof schedule !== 'object') fail('ERR_INVALID_ARGUMENT', 'learningRate takes a schedule object { kind, lr, ... }');
  if ((schedule.kind === 'linear' || schedule.kind === 'cosine') && schedule.totalSteps === undefined) {
    fail('ERR_INVALID_PARAMETER', `a '${schedule.kind}' schedule needs totalSteps, the number of optimizer steps of the run`);
  }
  const resolved = {
    kind: schedule.kind,
    lr: schedule.lr,
    warmupSteps: count('warmupSteps', schedule.warmupSteps ?? 0),
    totalSteps: count('totalSteps', schedule.totalSteps ?? 0),
    minLrRatio: schedule.minLrRatio ?? 0,
  };
  return callNative(() => native.learningRate(resolved, count('step', step)));
}

function count(name: string, value: unknown): number {
  if (!(typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0xffffffff)) {
    fail('ERR_INVALID_PARAMETER', `${name} must be a non-negative integer, got ${value}`);
  }
  return value;
}

/**
 * What every demo does around the trainer: evaluate the policy on held-out scenarios,
 * train it, evaluating again every `evalEvery` steps and after the last one, and measure
 * how far it moved from the base model (the KL on its own held-out conversations). Each
 * demo brings its scenarios, environment, rewards and evaluation; this file brings the
 * loop, the choice of held-out scenarios and the sample conversations of the report.
 */
import type { Agent } from '../agent/agent.js';
import type { Trajectory } from '../core/episode.js';
import { StatesetError } from '../core/errors.js';
import type { ComputeBackend } from '../backends/compute-backend.js';
import type { ModelSource } from '../io/hub/resolve.js';
import { loadModel } from '../model/model.js';
import { train, type TrainOptions } from '../train/trainer.js';
import { klToBase } from './evaluate.js';
import type { DemoSample } from './report.js';

/** One held-out evaluation during the run. */
export interface Measurement<E> {
  step: number;
  result: E;
  /** Mean per-token KL(policy || base) on the evaluation's conversations; 0 before training. */
  kl: number;
}

export interface MeasuredTrainingOptions<S, E extends { conversations: Trajectory<S>[] }> {
  agent: Agent;
  /** The model the KL is measured against (the untrained one). */
  base: Pick<ComputeBackend, 'score'>;
  /** Held-out evaluation every this many steps, and after the last. */
  evalEvery: number;
  /** Evaluates the agent as it is now. */
  evaluate(): Promise<E>;
  /** Called after each evaluation (for progress lines). */
  measured?(measurement: Measurement<E>): void;
  /** The training run; the callbacks are the loop's. */
  train: Omit<TrainOptions<S>, 'agent' | 'callbacks'> & { config: { steps: number } };
}

/** The untrained model the KL is measured against: the backend's own reference copy, or the model loaded again. */
export async function baseOf(agent: Agent, path: string, source: ModelSource = {}): Promise<Pick<ComputeBackend, 'score'>> {
  const policy = agent.policy as ComputeBackend;
  return policy.reference ? await policy.reference() : await loadModel(path, source);
}

/** Evaluations at step 0, every `evalEvery` steps and at the last step, in order. */
export async function trainMeasured<S, E extends { conversations: Trajectory<S>[] }>(options: MeasuredTrainingOptions<S, E>): Promise<Measurement<E>[]> {
  const { agent, base, evalEvery } = options;
  const steps = options.train.config.steps;
  const measure = async (step: number): Promise<Measurement<E>> => {
    const result = await options.evaluate();
    const measurement = { step, result, kl: step === 0 ? 0 : await klToBase(base, result.conversations) };
    options.measured?.(measurement);
    return measurement;
  };
  const measurements = [await measure(0)];
  await train<S>({
    ...options.train,
    agent,
    callbacks: {
      onStep: async (step) => {
        if (step % evalEvery !== 0 && step !== steps) return;
        measurements.push(await measure(step));
      },
    },
  });
  return measurements;
}

/** The first `count` scenarios, taken round-robin over `groups` so every group is represented. */
export function acrossGroups<T>(items: T[], groups: readonly string[], groupOf: (item: T) => string, count = items.length): T[] {
  if (!(Number.isInteger(count) && count >= 1)) throw new StatesetError('ERR_INVALID_ARGUMENT', `heldoutScenarios must be a positive integer, got ${count}.`);
  const byGroup = groups.map((group) => items.filter((item) => groupOf(item) === group));
  const longest = Math.max(...byGroup.map((list) => list.length));
  const ordered = Array.from({ length: longest }, (_, i) => byGroup.flatMap((list) => (i < list.length ? [list[i]] : []))).flat();
  return ordered.slice(0, count);
}

/** The first `count` held-out conversations before and after training, system prompts left out. */
export function samplesOf<S extends { id?: string }>(before: Trajectory<S>[], after: Trajectory<S>[], count: number): DemoSample[] {
  return before.slice(0, count).map((b, i) => ({
    scenario: String(b.scenario.id),
    before: b.messages.filter((m) => m.role !== 'system'),
    after: after[i].messages.filter((m) => m.role !== 'system'),
  }));
}

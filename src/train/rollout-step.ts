/**
 * The rollout half of a training step: draw the step's scenarios at the run's data
 * position, roll out G episodes of each, shape rewards and masks, and (DAPO) drop groups
 * without signal and sample more, up to `dynamicSampling.maxRounds` extra rounds.
 */
import type { Agent } from '../agent/agent.js';
import type { Trajectory } from '../core/episode.js';
import type { Environment } from '../env/environment.js';
import type { CompositeReward } from '../rewards/composite.js';
import { collectRollouts } from '../rollout/collect.js';
import type { TrainerConfig } from './config.js';
import { deriveSeed, itemsAt } from './seeds.js';
import { applyOverlongPenalty, groupsOf, hasZeroStd, maskTruncatedTurns } from './shaping.js';

export interface RolloutStepInput<S> {
  agent: Agent;
  environment: Environment<S, any>;
  scenarios: S[];
  rewards?: CompositeReward<S>;
  config: TrainerConfig;
  /** 0-based index of the optimizer step being prepared. */
  step: number;
  /** Scenarios consumed before this step. */
  dataPosition: number;
}

export interface RolloutStep<S> {
  /** Group-major; groups renumbered 0.. in the order kept. */
  trajectories: Trajectory<S>[];
  /** Data position after this step's draws. */
  dataPosition: number;
  /** Groups rolled out, and those of them whose rewards were all equal. */
  groupsSampled: number;
  zeroStdGroups: number;
  /** Generation rounds (1 + extra dynamic-sampling rounds). */
  rounds: number;
}

export async function rolloutStep<S>(input: RolloutStepInput<S>): Promise<RolloutStep<S>> {
  const { agent, environment, scenarios, rewards, config, step } = input;
  const dynamic = config.dynamicSampling.enabled;
  const kept: Trajectory<S>[][] = [];
  let dataPosition = input.dataPosition;
  let groupsSampled = 0;
  let zeroStdGroups = 0;
  let rounds = 0;
  for (let round = 0; round <= (dynamic ? config.dynamicSampling.maxRounds : 0) && kept.length < config.batchSize; round++) {
    const count = round === 0 ? config.batchSize : config.batchSize - kept.length;
    const drawn = itemsAt(scenarios.length, dataPosition, count, config.seed).map((i) => scenarios[i]);
    dataPosition += count;
    rounds++;
    const batch = await collectRollouts(agent, environment, drawn, {
      groupSize: config.groupSize,
      concurrency: config.rolloutConcurrency,
      rewards,
      generation: { ...config.generation, seed: deriveSeed(config.seed, step, 'rollout', round) },
    });
    for (const group of groupsOf(batch.trajectories.map((t) => shape(t, config)), config.groupSize)) {
      groupsSampled++;
      const zeroStd = hasZeroStd(group);
      if (zeroStd) zeroStdGroups++;
      if (!(dynamic && zeroStd)) kept.push(group);
    }
  }
  const trajectories = kept.slice(0, config.batchSize).flatMap((group, g) => group.map((t) => ({ ...t, group: g })));
  return { trajectories, dataPosition, groupsSampled, zeroStdGroups, rounds };
}

/**
 * Overlong shaping as configured; a turn cut by the end of the context is always left out
 * of the loss (its length says nothing about the policy), one cut by maxNewTokens only
 * with `overlong.maskTruncated`.
 */
function shape<S>(trajectory: Trajectory<S>, config: TrainerConfig): Trajectory<S> {
  const { enabled, cacheLength, maskTruncated } = config.overlong;
  const penalized = enabled ? applyOverlongPenalty(trajectory, config.generation.maxNewTokens, cacheLength) : trajectory;
  return maskTruncatedTurns(penalized, maskTruncated ? ['length', 'context'] : ['context']);
}

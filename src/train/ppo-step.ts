/**
 * PPO with a learned critic (algorithm 'ppo'), the parts of a step that differ from the
 * group-relative algorithms:
 *
 *   rollouts -> per-token rewards (each turn's reward on that turn's last sampled token, the
 *   episode reward on the episode's last one; optionally minus coef * KL to the reference)
 *   -> the critic's value at every token -> GAE over each whole multi-turn trajectory, with
 *   the user, tool and template tokens carried through by the mask (ALGORITHMS.md section 2)
 *   -> advantages (lambdaActor, optionally whitened) and returns (lambdaCritic)
 *   -> numIterations passes of the clipped policy loss and the clipped value loss.
 *
 * Separate lambdas follow VC-PPO / VAPO: returns with lambda 1 give the critic unbiased
 * targets on long episodes, while the policy's advantages keep lambda < 1 for low variance.
 * The first `valueWarmupSteps` steps train the critic alone (VAPO's value pretraining), so
 * that the policy's first advantages come from a critic that has seen the task.
 */
import type { Trajectory } from '../core/episode.js';
import { computeGae } from '../algorithms/advantages.js';
import { klTerm } from '../algorithms/reference/loss.js';
import type { Critic, CriticStepMetrics, ValueBatch } from '../model/critic.js';
import type { ComputeBackend } from '../backends/compute-backend.js';
import type { TrainBatch, TrainStepConfig, TrainStepMetrics } from '../model/train.js';
import type { Metrics } from '../tracking/tracker.js';
import type { TrainerConfig } from './config.js';
import { explainedVariance, meanOf } from './stats.js';

export interface PpoBatch {
  /** The policy's batch, with per-token advantages. */
  policy: TrainBatch;
  /** The critic's batch: GAE returns and the values they were computed from. */
  critic: ValueBatch;
  /** explained_variance, value_mean and return_mean of the values the rollout was scored with; reward_kl with kl.inReward. */
  metrics: Metrics;
}

/**
 * Per-token rewards aligned with the trajectory's tokens: turn k's reward on the last token
 * the policy sampled in turn k, the episode reward on the last sampled token of the episode.
 * A reward whose turn has no loss token (a masked truncated turn) goes to the nearest loss
 * token before it, since GAE reads rewards at action tokens only.
 */
export function tokenRewards(trajectory: Trajectory): Float32Array {
  const { mask, turns, turnRewards, episodeReward } = trajectory;
  const rewards = new Float32Array(mask.length);
  const lastActionBefore = (end: number) => {
    for (let t = end - 1; t >= 0; t--) if (mask[t]) return t;
    return -1;
  };
  turns.forEach((turn, k) => {
    const at = lastActionBefore(turn.end);
    if (at >= 0 && Number.isFinite(turnRewards[k])) rewards[at] += turnRewards[k];
  });
  const last = lastActionBefore(mask.length);
  if (last >= 0 && Number.isFinite(episodeReward)) rewards[last] += episodeReward;
  return rewards;
}

/**
 * The step's policy and critic batches. A trajectory whose reward is missing (NaN) is kept
 * out of both losses (mask 0), as it is out of the group statistics of the other algorithms.
 */
export async function preparePpo(trajectories: Trajectory[], critic: Critic, config: TrainerConfig, refLogprobs?: Float32Array[]): Promise<PpoBatch> {
  const sequences = trajectories.map((t) => t.tokens);
  const masks = trajectories.map((t) => (Number.isFinite(t.reward) ? t.mask : new Uint8Array(t.mask.length)));
  const oldLogprobs = trajectories.map((t) => t.logprobs);
  const rewards = trajectories.map(tokenRewards);
  const kls: number[] = [];
  if (refLogprobs && config.kl.inReward) {
    rewards.forEach((r, i) =>
      masks[i].forEach((m, t) => {
        if (!m) return;
        const [kl] = klTerm(config.kl.estimator, oldLogprobs[i][t], refLogprobs[i][t]);
        r[t] -= config.kl.coef * kl;
        kls.push(kl);
      }),
    );
  }
  // V_t of the state before token t: the value of each position the policy acted at.
  const scored = await critic.values(sequences);
  const values = scored.map((v, i) => {
    const aligned = new Float32Array(sequences[i].length);
    aligned.set(v, 1);
    return aligned;
  });
  const flat = (arrays: ArrayLike<number>[]) => Float32Array.from(arrays.flatMap((a) => Array.from(a)));
  const offsets = new Int32Array(sequences.length + 1);
  sequences.forEach((s, i) => (offsets[i + 1] = offsets[i] + s.length));
  const gae = { rewards: flat(rewards), values: flat(values), mask: Uint8Array.from(masks.flatMap((m) => Array.from(m))), offsets, gamma: config.ppo.gamma };
  const actor = computeGae({ ...gae, lambda: config.ppo.lambdaActor, whiten: config.ppo.whitenAdvantages });
  const returnsFlat = config.ppo.lambdaCritic === config.ppo.lambdaActor ? actor.returns : computeGae({ ...gae, lambda: config.ppo.lambdaCritic }).returns;
  // Per trajectory, 0 off the mask (GAE carries values through those positions; no loss reads them).
  const split = (flatValues: Float32Array) => sequences.map((_, i) => flatValues.slice(offsets[i], offsets[i + 1]).map((x, t) => (masks[i][t] ? x : 0)));
  const advantages = split(actor.advantages);
  const returns = split(returnsFlat);

  const masked = (arrays: Float32Array[]) => arrays.flatMap((a, i) => Array.from(a).filter((_, t) => masks[i][t]));
  const metrics: Metrics = {
    explained_variance: explainedVariance(values, returns, masks),
    value_mean: meanOf(masked(values)),
    return_mean: meanOf(masked(returns)),
    ...(config.kl.inReward ? { reward_kl: meanOf(kls) } : {}),
  };
  return {
    policy: { sequences, masks, oldLogprobs, advantages, ...(config.loss.beta > 0 && refLogprobs ? { refLogprobs } : {}) },
    critic: { sequences, masks, returns, oldValues: values },
    metrics,
  };
}

export interface PpoPasses {
  policy: TrainStepMetrics[];
  critic: CriticStepMetrics[];
}

/**
 * `numIterations` passes over the batch: a policy step (none during the value warm-up) and
 * a critic step each, both micro-batched natively. Old log-probs and old values stay those
 * of the rollout, so later passes are clipped against where the batch was collected.
 */
export async function trainPpo(
  model: ComputeBackend,
  critic: Critic,
  batch: PpoBatch,
  config: TrainerConfig,
  step: number,
  policyConfig: (pass: number) => TrainStepConfig,
  valueLearningRate: number,
): Promise<PpoPasses> {
  const passes: PpoPasses = { policy: [], critic: [] };
  const warmingUp = step < config.ppo.valueWarmupSteps;
  for (let pass = 0; pass < config.numIterations; pass++) {
    if (!warmingUp) passes.policy.push(await model.trainStep(batch.policy, policyConfig(pass)));
    passes.critic.push(
      await critic.trainStep(batch.critic, {
        learningRate: valueLearningRate,
        microBatchSize: config.microBatchSize,
        vfClip: config.ppo.vfClip > 0 ? config.ppo.vfClip : undefined,
        maxGradNorm: config.maxGradNorm,
        weightDecay: config.weightDecay,
        adamBetas: config.adamBetas,
        adamEps: config.adamEps,
        activationCheckpointing: config.activationCheckpointing,
      }),
    );
  }
  return passes;
}

/** The critic's metrics of a step, averaged over its passes. */
export function criticMetrics(passes: CriticStepMetrics[]): Metrics {
  return {
    value_loss: meanOf(passes.map((p) => p.value_loss)),
    value_clip_frac: meanOf(passes.map((p) => p.value_clip_frac)),
    value_grad_norm: meanOf(passes.map((p) => p.grad_norm)),
    value_lr: passes[0]?.lr ?? NaN,
  };
}

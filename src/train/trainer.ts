/**
 * The training loop. One step:
 *   rollouts (G episodes per scenario) -> rewards -> advantages (group-relative, native core)
 *   -> `numIterations` trainStep passes over the batch -> metrics -> evaluation every
 *   `evalEvery` steps -> a checkpoint every `saveEvery` steps and at the end.
 * SFT steps train on a dataset of conversations, or on the best of each group of rollouts
 * (rejection sampling) when no dataset is given. PPO replaces the group advantages with GAE
 * from a learned critic, trained beside the policy (ppo-step.ts).
 *
 * Resuming reloads the newest complete checkpoint of the run folder; every random choice
 * derives from (seed, step), so N steps in one run and N/2 + resume + N/2 give the same
 * weights on CPU. An aborted `signal` ends the run after the current step, with a checkpoint.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Agent } from '../agent/agent.js';
import type { Trajectory } from '../core/episode.js';
import { StatesetError } from '../core/errors.js';
import type { Environment } from '../env/environment.js';
import { learningRate } from '../algorithms/schedule.js';
import type { ComputeBackend } from '../backends/compute-backend.js';
import { loadModel, Model } from '../model/model.js';
import type { TrainBatch, TrainStepMetrics } from '../model/train.js';
import type { Critic } from '../model/critic.js';
import { CompositeReward, type WeightedReward } from '../rewards/composite.js';
import type { RewardFunction } from '../rewards/types.js';
import { tokenAdvantages } from '../rollout/credit.js';
import type { Metrics, Sample, Tracker } from '../tracking/tracker.js';
import { policyBatch, referenceLogprobs } from './batch.js';
import { criticMetrics, preparePpo, trainPpo, type PpoBatch } from './ppo-step.js';
import { CHECKPOINT_PARTS, readTrainerState, writeCheckpoint, type TrainerState } from './checkpoint.js';
import { CheckpointStore, type CheckpointInfo } from './checkpoint-store.js';
import { resolveConfig, type DeepPartial, type TrainerConfig } from './config.js';
import { modelSource } from '../agent/config.js';
import { evaluate, rolloutSummary } from './evaluate.js';
import type { Algorithm } from './presets.js';
import { rolloutStep } from './rollout-step.js';
import { latestCheckpoint, prepareFreshRunFolder, truncateLogs, writeRunConfig } from './run-folder.js';
import { deriveSeed, itemsAt } from './seeds.js';
import { bestOfGroups, sftBatch, sftExamples, type SftExample } from './sft.js';
import { meanRecord } from './stats.js';
import { trainableModel } from './trainable.js';
import { runTrackers, type TrackingOptions } from './tracking.js';

export interface TrainerCallbacks {
  /** After each step's metrics are logged. */
  onStep?(step: number, metrics: Metrics): void | Promise<void>;
  onEval?(step: number, metrics: Metrics): void | Promise<void>;
  onCheckpoint?(checkpoint: CheckpointInfo): void | Promise<void>;
}

export interface TrainOptions<Scenario> {
  agent: Agent;
  /** Where rollouts happen (every algorithm but SFT from a dataset). */
  environment?: Environment<Scenario, any>;
  rewards?: CompositeReward<Scenario> | Array<RewardFunction<Scenario> | WeightedReward<Scenario>>;
  /** The training scenarios, read epoch by epoch in a seeded order. */
  scenarios?: Scenario[];
  /** Held-out scenarios, evaluated every `evalEvery` steps. */
  evalScenarios?: Scenario[];
  /** SFT: conversations ({ messages }) whose assistant messages are the targets. */
  dataset?: unknown[];
  /** Default: config.algorithm, else 'grpo'. */
  algorithm?: Algorithm;
  /** Any trainer field; the algorithm's preset fills the rest. */
  config?: DeepPartial<TrainerConfig>;
  tracking?: TrackingOptions;
  callbacks?: TrainerCallbacks;
  /** The run folder. */
  out: string;
  /** Continue the run in `out` from its newest complete checkpoint, up to config.steps. */
  resume?: boolean;
  /** When aborted, the run stops after the current step and writes a checkpoint. */
  signal?: AbortSignal;
  /** Written into config.json beside the trainer config (e.g. the CLI's model and rewards). */
  describe?: Record<string, unknown>;
}

export interface TrainResult {
  /** The trained agent (a new one when the run was resumed from a checkpoint). */
  agent: Agent;
  /** Optimizer steps done, over all runs of this folder. */
  step: number;
  /** True when `signal` stopped the run before config.steps. */
  stopped: boolean;
  config: TrainerConfig;
  lastMetrics?: Metrics;
  checkpoint?: CheckpointInfo;
}

/** Trains an agent; see TrainOptions. */
export async function train<Scenario>(options: TrainOptions<Scenario>): Promise<TrainResult> {
  return new Trainer(options).run();
}

export class Trainer<Scenario> {
  readonly config: TrainerConfig;
  private readonly rewards: CompositeReward<Scenario> | undefined;
  private readonly store: CheckpointStore;
  private sftData: SftExample[] | undefined;
  /** Whether the model has optimizer state to save (a trainStep ran, or a checkpoint restored one). */
  private optimizerStarted = false;
  /** PPO's critic. */
  private critic: Critic | undefined;

  constructor(private readonly options: TrainOptions<Scenario>) {
    if (!(options.agent instanceof Agent)) throw new StatesetError('ERR_INVALID_ARGUMENT', 'train needs an agent: await Agent.create({ model: path }).');
    if (typeof options.out !== 'string' || options.out === '') throw new StatesetError('ERR_INVALID_ARGUMENT', 'train needs `out`, the run folder to write into.');
    this.config = resolveConfig({ ...options.config, algorithm: options.algorithm ?? options.config?.algorithm });
    this.rewards = Array.isArray(options.rewards) ? new CompositeReward(options.rewards) : options.rewards;
    this.store = new CheckpointStore(options.out, { keepLast: this.config.keepLast });
    this.checkInputs();
    if (this.config.loss.aggregation === 'seq-mean-token-sum-norm' && !this.usesDataset) {
      this.config.loss.maxCompletionLength ??= this.config.generation.maxNewTokens * (options.environment?.maxTurns ?? 1);
    }
  }

  /** Notices of the run (a reused run folder, skipped steps): the tracking's `warn`, else console.warn. */
  private notice(line: string): void {
    (this.options.tracking?.warn ?? console.warn)(line);
  }

  private get usesDataset(): boolean {
    return this.config.algorithm === 'sft' && this.options.dataset !== undefined;
  }

  private checkInputs(): void {
    const { environment, scenarios, evalScenarios } = this.options;
    const c = this.config;
    if (!this.usesDataset) {
      if (!environment) throw new StatesetError('ERR_INVALID_ARGUMENT', `${c.algorithm} needs an environment to roll out in${c.algorithm === 'sft' ? ' (or a dataset of conversations)' : ''}.`);
      if (!Array.isArray(scenarios) || scenarios.length === 0) throw new StatesetError('ERR_INVALID_ARGUMENT', `${c.algorithm} needs a non-empty list of scenarios.`);
    }
    if (evalScenarios !== undefined && (!Array.isArray(evalScenarios) || evalScenarios.length === 0 || !environment)) {
      throw new StatesetError('ERR_INVALID_ARGUMENT', 'evalScenarios must be a non-empty list, and evaluation needs an environment.');
    }
    if (c.overlong.enabled && c.overlong.cacheLength > c.generation.maxNewTokens) {
      throw new StatesetError('ERR_INVALID_CONFIG', `overlong.cacheLength (${c.overlong.cacheLength}) must not exceed generation.maxNewTokens (${c.generation.maxNewTokens}).`);
    }
    if (c.loss.loss === 'sft' && c.loss.beta > 0) throw new StatesetError('ERR_INVALID_CONFIG', 'loss.beta must be 0 for SFT: the KL term needs rollout log-probs.');
    const penalty = this.options.agent.config.generation.repetitionPenalty;
    if (penalty !== 1 && !this.usesDataset) {
      throw new StatesetError(
        'ERR_INVALID_CONFIG',
        `the agent's generation.repetitionPenalty is ${penalty}, but training needs 1: the penalty changes which tokens are sampled while the loss's importance ratio assumes the model's own distribution, so the update would be biased. ` +
          'Remove repetitionPenalty from the agent you train (pass it per call, e.g. agent.respond(messages, { generation: { repetitionPenalty } }), where you chat with the trained model).',
      );
    }
    // Every scenario is checked now, before the run writes anything, not when a rollout reaches it.
    if (environment?.checkScenario) {
      scenarios?.forEach((s, i) => environment.checkScenario!(s, `scenarios.${i}`));
      evalScenarios?.forEach((s, i) => environment.checkScenario!(s, `evalScenarios.${i}`));
    }
    if (c.kl.inReward && c.algorithm !== 'ppo') throw new StatesetError('ERR_INVALID_CONFIG', `kl.inReward puts the KL penalty into per-token rewards, which only ppo has; use loss.beta for ${c.algorithm}.`);
  }

  async run(): Promise<TrainResult> {
    const { options, config } = this;
    const resumed = options.resume ? latestCheckpoint(options.out, this.store) : undefined;
    if (!resumed) prepareFreshRunFolder(options.out, this.store, (line) => this.notice(line));
    const state: TrainerState = resumed ? readTrainerState(resumed.dir) : { step: 0, dataPosition: 0, seed: config.seed, skippedSteps: 0 };
    if (resumed && state.seed !== config.seed) {
      throw new StatesetError('ERR_INVALID_CONFIG', `the run in ${options.out} was trained with seed ${state.seed}, not ${config.seed}: resume it with the same seed.`);
    }
    const agent = resumed ? await this.restoreAgent(resumed.dir) : options.agent;
    const model = trainableModel(agent);
    if (config.algorithm === 'ppo') this.critic = await this.createCritic(model, resumed?.dir);
    if (this.usesDataset) this.useDataset(sftExamples(agent, options.dataset!));
    if (resumed) truncateLogs(options.out, state.step);
    writeRunConfig(options.out, { ...options.describe, trainer: config });
    const reference = config.loss.beta > 0 || config.kl.inReward ? await referenceModel(options.agent, model) : undefined;
    const tracker = runTrackers(options.out, config.steps, options.tracking ?? {}, { ...options.describe, trainer: config });

    let lastMetrics: Metrics | undefined;
    let checkpoint = resumed;
    try {
      while (state.step < config.steps && !options.signal?.aborted) {
        lastMetrics = await this.step(agent, model, reference, state, tracker);
        if (this.due(config.evalEvery, state.step)) await this.evaluate(agent, state.step, tracker);
        if (this.due(config.saveEvery, state.step) && state.step < config.steps) checkpoint = await this.save(model, agent, state);
      }
      if (checkpoint?.step !== state.step) checkpoint = await this.save(model, agent, state);
    } finally {
      await tracker.close();
    }
    return { agent, step: state.step, stopped: state.step < config.steps, config, lastMetrics, checkpoint };
  }

  /**
   * SFT on a dataset. Dr. GRPO's L_max, when not given, is the dataset's longest target: a
   * constant of the run, like maxNewTokens x maxTurns for rollouts.
   */
  private useDataset(examples: SftExample[]): void {
    this.sftData = examples;
    if (this.config.loss.aggregation === 'seq-mean-token-sum-norm') {
      this.config.loss.maxCompletionLength ??= examples.reduce((longest, e) => Math.max(longest, e.mask.reduce((n: number, m) => n + m, 0)), 1);
    }
  }

  private due(every: number, step: number): boolean {
    return every > 0 && step % every === 0;
  }

  /** One optimizer step (numIterations passes over one batch); advances `state`. */
  private async step(agent: Agent, model: ComputeBackend, reference: Reference | undefined, state: TrainerState, tracker: Tracker): Promise<Metrics> {
    const started = performance.now();
    const failuresBefore = this.rewardFailures();
    const prepared = await this.prepare(agent, reference, state);
    const prepareSeconds = (performance.now() - started) / 1000;
    const passes: TrainStepMetrics[] = [];
    let ppoMetrics: Metrics = {};
    // No loss tokens (every group dropped, or every turn masked as truncated): nothing to train on.
    if (prepared.batch.masks.some((mask) => mask.includes(1))) {
      if (this.critic && prepared.ppo) {
        const first = state.step * this.config.numIterations;
        const ppo = await trainPpo(model, this.critic, prepared.ppo, this.config, state.step, (pass) => this.stepConfig(first + pass), this.valueLearningRate(first));
        passes.push(...ppo.policy);
        ppoMetrics = criticMetrics(ppo.critic);
      } else {
        for (let pass = 0; pass < this.config.numIterations; pass++) {
          passes.push(await model.trainStep(prepared.batch, this.stepConfig(state.step * this.config.numIterations + pass)));
        }
      }
      this.optimizerStarted ||= passes.length > 0;
    }
    state.step++;
    state.dataPosition = prepared.dataPosition;
    const trained = meanRecord(passes.map((p) => ({ ...p }) as unknown as Record<string, number>));
    const skipped = passes.filter((p) => p.skipped).length;
    state.skippedSteps += skipped;
    if (skipped) {
      this.notice(
        `step ${state.step}: ${skipped} of ${passes.length} optimizer updates skipped because the loss, the log-probs or the gradient was not finite; the weights were left unchanged (${state.skippedSteps} skipped in this run so far).`,
      );
    }
    const seconds = (performance.now() - started) / 1000;
    const tokens = prepared.batch.sequences.reduce((n, s) => n + s.length, 0) * passes.length;
    const metrics: Metrics = {
      ...prepared.metrics,
      loss: trained.loss ?? NaN,
      grad_norm: trained.grad_norm ?? NaN,
      clip_frac: trained.clip_frac ?? NaN,
      entropy: trained.entropy ?? NaN,
      ...(this.config.loss.beta > 0 ? { kl: trained.kl ?? NaN } : {}),
      lr: trained.lr ?? NaN,
      ...ppoMetrics,
      skipped_steps: state.skippedSteps,
      reward_failures: this.rewardFailures() - failuresBefore,
      step_time_s: seconds,
      // Sampling, rewards, advantages and any reference scoring, then the optimizer passes.
      rollout_time_s: prepareSeconds,
      update_time_s: seconds - prepareSeconds,
      tokens_per_s: tokens / seconds,
    };
    await tracker.logMetrics(state.step, metrics);
    if (prepared.samples.length) await tracker.logSamples?.(state.step, prepared.samples);
    await this.options.callbacks?.onStep?.(state.step, metrics);
    return metrics;
  }

  /** The step's batch and its rollout metrics (and, for PPO, the critic's batch). */
  private async prepare(agent: Agent, reference: Reference | undefined, state: TrainerState): Promise<{ batch: TrainBatch; ppo?: PpoBatch; dataPosition: number; metrics: Metrics; samples: Sample[] }> {
    const { config } = this;
    if (this.sftData) {
      const picked = itemsAt(this.sftData.length, state.dataPosition, config.batchSize, config.seed).map((i) => this.sftData![i]);
      const batch = sftBatch(picked);
      return { batch, dataPosition: state.dataPosition + config.batchSize, metrics: { target_tokens_mean: batch.masks.reduce((n, m) => n + m.reduce((a, b) => a + b, 0), 0) / batch.masks.length }, samples: [] as Sample[] };
    }
    const rollout = await rolloutStep({
      agent,
      environment: this.options.environment!,
      scenarios: this.options.scenarios!,
      rewards: this.rewards,
      config,
      step: state.step,
      dataPosition: state.dataPosition,
    });
    const { trajectories } = rollout;
    const metrics: Metrics = {
      ...rolloutSummary(trajectories),
      frac_zero_std_groups: rollout.groupsSampled ? rollout.zeroStdGroups / rollout.groupsSampled : 0,
      groups_trained: config.algorithm === 'sft' ? trajectories.length / config.groupSize : new Set(trajectories.map((t) => t.group)).size,
      ...(config.dynamicSampling.enabled ? { sampling_rounds: rollout.rounds } : {}),
    };
    const samples = trajectories.slice(0, config.samplesPerStep).map(toSample);
    if (config.algorithm === 'sft') {
      const best = bestOfGroups(trajectories, config.groupSize);
      return { batch: sftBatch(best.map((t) => ({ sequence: t.tokens, mask: t.mask }))), dataPosition: rollout.dataPosition, metrics, samples };
    }
    if (this.critic) {
      const ref = reference ? await referenceLogprobs(reference, trajectories.map((t) => t.tokens), trajectories.map((t) => t.mask), config.generation.temperature) : undefined;
      const ppo = await preparePpo(trajectories, this.critic, config, ref);
      return { batch: ppo.policy, ppo, dataPosition: rollout.dataPosition, metrics: { ...metrics, ...ppo.metrics }, samples };
    }
    const advantages = tokenAdvantages(trajectories, {
      creditAssignment: config.creditAssignment,
      gamma: config.gamma,
      estimator: config.advantage.estimator,
      scale: config.advantage.scale,
      eps: config.advantage.eps,
    });
    const ref = reference
      ? await referenceLogprobs(reference, trajectories.map((t) => t.tokens), trajectories.map((t) => t.mask), config.generation.temperature)
      : undefined;
    return { batch: policyBatch(trajectories, advantages, ref), dataPosition: rollout.dataPosition, metrics, samples };
  }

  private stepConfig(optimizerStep: number) {
    const c = this.config;
    const schedule = { kind: c.lrSchedule, lr: c.learningRate, warmupSteps: c.warmupSteps, totalSteps: c.steps * c.numIterations };
    return {
      ...c.loss,
      learningRate: learningRate(schedule, optimizerStep),
      microBatchSize: c.microBatchSize,
      activationCheckpointing: c.activationCheckpointing,
      maxGradNorm: c.maxGradNorm,
      // generate's log-probs at temperature 0 are those at temperature 1.
      temperature: c.generation.temperature > 0 ? c.generation.temperature : 1,
      weightDecay: c.weightDecay,
      adamBetas: c.adamBetas,
      adamEps: c.adamEps,
    };
  }

  /** The critic's learning rate at an optimizer step: the policy's schedule at valueLearningRate. */
  private valueLearningRate(optimizerStep: number): number {
    const c = this.config;
    return learningRate({ kind: c.lrSchedule, lr: c.ppo.valueLearningRate, warmupSteps: c.warmupSteps, totalSteps: c.steps * c.numIterations }, optimizerStep);
  }

  /** PPO's critic from the policy's current weights, with a checkpoint's critic state when resuming. */
  private async createCritic(model: ComputeBackend, checkpointDir: string | undefined): Promise<Critic> {
    // The critic is a model of this process: it shares the policy's base weights in memory.
    if (!(model instanceof Model)) throw new StatesetError('ERR_INVALID_CONFIG', `ppo trains a critic beside the policy in this process: it needs the native backend, not ${model.kind}. Use grpo, rloo or another critic-free algorithm there.`);
    const critic = await model.createCritic({ seed: this.config.seed % 2 ** 32 });
    const saved = checkpointDir && join(checkpointDir, CHECKPOINT_PARTS.critic);
    if (saved && existsSync(saved)) await critic.load(saved);
    return critic;
  }

  private async evaluate(agent: Agent, step: number, tracker: Tracker): Promise<void> {
    const { environment, evalScenarios } = this.options;
    if (!evalScenarios || !environment) return;
    const { metrics } = await evaluate({
      agent,
      environment,
      scenarios: evalScenarios,
      rewards: this.rewards,
      generation: { ...this.config.generation, seed: deriveSeed(this.config.seed, step, 'eval') },
      concurrency: this.config.rolloutConcurrency,
    });
    await tracker.logEval?.(step, metrics);
    await this.options.callbacks?.onEval?.(step, metrics);
  }

  private async save(model: ComputeBackend, agent: Agent, state: TrainerState): Promise<CheckpointInfo> {
    const info = await this.store.save(state.step, (dir) =>
      writeCheckpoint(dir, model, { ...state }, { lora: trainsAdapters(agent, model), optimizerStarted: this.optimizerStarted, critic: this.critic }),
    );
    await this.options.callbacks?.onCheckpoint?.(info);
    return info;
  }

  /**
   * The agent with the checkpoint's weights and optimizer state. With LoRA the base model is
   * loaded again and the training state brings back the adapters.
   */
  private async restoreAgent(checkpointDir: string): Promise<Agent> {
    const { agent } = this.options;
    const lora = trainsAdapters(agent, trainableModel(agent));
    const restored = await Agent.create({ ...agent.config, model: lora ? agent.config.model : join(checkpointDir, CHECKPOINT_PARTS.model) });
    const trainingState = join(checkpointDir, CHECKPOINT_PARTS.trainingState);
    if (existsSync(trainingState)) {
      await trainableModel(restored).loadTrainingState(trainingState);
      this.optimizerStarted = true;
    }
    return restored;
  }

  private rewardFailures(): number {
    const stats = this.rewards?.stats() ?? {};
    return Object.values(stats).reduce((n, s) => n + s.failures.error + s.failures.nan + s.failures.timeout, 0);
  }
}

type Reference = Pick<ComputeBackend, 'score'>;

/** The frozen starting policy for the KL penalty: the backend's own, else the model loaded again. */
async function referenceModel(agent: Agent, model: ComputeBackend): Promise<Reference> {
  return model.reference ? model.reference() : loadModel(agent.config.model, modelSource(agent.config));
}

/** Whether checkpoints hold an adapter (LoRA, or a backend that trains adapters) rather than whole weights. */
function trainsAdapters(agent: Agent, model: ComputeBackend): boolean {
  return agent.config.lora !== undefined || model.trainsAdapters === true;
}

function toSample(t: Trajectory): Sample {
  const firstReply = t.messages.findIndex((m) => m.role === 'assistant');
  const opening = firstReply < 0 ? t.messages : t.messages.slice(0, firstReply);
  return {
    prompt: opening.filter((m) => m.role === 'user').map((m) => m.content).join('\n'),
    completion: t.turns.map((turn) => turn.assistant.content).join('\n'),
    reward: t.reward,
    extra: { group: t.group, member: t.member, messages: t.messages, rewardScores: t.rewardScores, doneReason: t.doneReason },
  };
}

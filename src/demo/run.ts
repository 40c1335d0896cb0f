/**
 * The customer-service demo, start to end: evaluate the model on held-out scenarios,
 * train it with RL (the trainer's `train`) to be polite and concise, measuring the
 * held-out figures and the KL to the base model as it goes, evaluate again, and write
 * report.json and report.html. The run folder of the training is DIR/run.
 */
import { join } from 'node:path';
import { Agent } from '../agent/agent.js';
import { modelSource } from '../agent/config.js';
import type { ModelSource } from '../io/hub/resolve.js';
import { StatesetError } from '../core/errors.js';
import type { BackendConfig } from '../backends/config.js';
import type { ComputeBackend } from '../backends/compute-backend.js';
import { loadModel } from '../model/model.js';
import { deepMerge, type DeepPartial, type TrainerConfig } from '../train/config.js';
import { train } from '../train/trainer.js';
import type { TrackingOptions } from '../train/tracking.js';
import { evaluateDemo, klToBase, type DemoEvaluation } from './evaluate.js';
import { demoRewardFunctions } from './metrics.js';
import { demoModelPath, SHIPPED_MODEL_NAME } from './model-path.js';
import { writeDemoReport, type DemoReport, type DemoSample, type TrainingPoint } from './report.js';
import { DEMO_TOPICS, demoEnvironment, demoScenarios, type DemoScenario } from './scenarios.js';

export type DemoAlgorithm = 'grpo' | 'gspo' | 'ppo';
export const DEMO_ALGORITHMS: readonly DemoAlgorithm[] = ['grpo', 'gspo', 'ppo'];

export interface DemoOptions extends ModelSource {
  /** 'tiny' (the shipped model, default), a model folder, a .gguf file or a Hub id (owner/name). */
  model?: string;
  /** Default 'grpo'. */
  algorithm?: DemoAlgorithm;
  /** Default DEMO_DEFAULTS.steps. */
  steps?: number;
  /** Default 0. */
  seed?: number;
  /** Where report.json, report.html and the run folder (run/) go. */
  out: string;
  /** Held-out evaluation every this many steps, for the training curves. Default: 4 points over the run. */
  evalEvery?: number;
  /** Held-out scenarios evaluated, taken across topics. Default: the model kind's setting in DEMO_DEFAULTS. */
  heldoutScenarios?: number;
  /** Sample conversations in the report. Default 5 (one per topic). */
  samples?: number;
  /** Where generation and training run (e.g. a Tinker-compatible service). Default: the native engine. */
  backend?: BackendConfig;
  /** LoRA of a model other than 'tiny'. Default DEMO_DEFAULTS.other.lora. */
  lora?: { rank: number; alpha: number };
  /** Trainer fields laid over the demo's defaults. */
  config?: DeepPartial<TrainerConfig>;
  tracking?: TrackingOptions;
  /** Progress lines. Default console.log. */
  log?: (line: string) => void;
}

/** What the demo trains and evaluates with, for one kind of model. */
export interface DemoSettings {
  /** Held-out scenarios evaluated (taken across topics). */
  heldoutScenarios: number;
  /** LoRA adapters to train; absent: every weight trains. */
  lora?: { rank: number; alpha: number };
  config: DeepPartial<TrainerConfig>;
}

/**
 * The demo's settings. The shipped tiny model trains every weight; any other model trains
 * LoRA adapters, with fewer episodes per step (a 100M-parameter model costs hundreds of
 * times more per token on a CPU) and fewer held-out scenarios.
 */
export const DEMO_DEFAULTS = {
  steps: 16,
  maxNewTokens: 64,
  tiny: {
    heldoutScenarios: 45,
    // Small steps and a KL penalty to the SFT model: larger steps find replies such as
    // "Thank you youred youred ..." that score well and read badly.
    config: { batchSize: 4, groupSize: 8, learningRate: 2e-4, loss: { beta: 0.05 }, maxGradNorm: 1.0, saveEvery: 0, samplesPerStep: 4 },
  } satisfies DemoSettings,
  other: {
    heldoutScenarios: 15,
    lora: { rank: 8, alpha: 16 },
    // Two sequences per pass with activation checkpointing: SmolLM2-135M's whole demo peaked at
    // 3.2 GB resident (a first try with passes of 8 and no checkpointing reached 12 GB).
    config: { batchSize: 2, groupSize: 6, microBatchSize: 2, activationCheckpointing: true, learningRate: 2e-3, loss: { beta: 0.1 }, maxGradNorm: 1.0, saveEvery: 0, samplesPerStep: 2 },
  } satisfies DemoSettings,
  /**
   * PPO, laid over either setting: the critic learns 5x faster than the policy, and the
   * advantages use lambda 1 (R - V_t: the reward at a reply's end reaches its first tokens
   * undiscounted; the critic of 16 short steps explains little of the returns, so its own
   * TD errors are a poor signal). Measured on the tiny model, seed 0, held-out reward after
   * 16 steps: lambda 0.95 with 2 critic-only warm-up steps 1.39; lambda 1 with them 1.62;
   * lambda 1 without 1.70 (GRPO: 1.82).
   */
  ppo: { ppo: { lambdaActor: 1.0, valueLearningRate: 1e-3 } } satisfies DeepPartial<TrainerConfig>,
};

export async function runDemo(options: DemoOptions): Promise<DemoReport> {
  const algorithm = options.algorithm ?? 'grpo';
  if (!DEMO_ALGORITHMS.includes(algorithm)) throw new StatesetError('ERR_INVALID_ARGUMENT', `the demo trains with ${DEMO_ALGORITHMS.join(' or ')}, not ${JSON.stringify(algorithm)}.`);
  const steps = options.steps ?? DEMO_DEFAULTS.steps;
  const seed = options.seed ?? 0;
  const log = options.log ?? ((line: string) => console.log(line));
  const model = options.model ?? SHIPPED_MODEL_NAME;
  const path = demoModelPath(model);
  const evalEvery = options.evalEvery ?? Math.max(1, Math.round(steps / 4));
  const settings: DemoSettings = model === SHIPPED_MODEL_NAME ? DEMO_DEFAULTS.tiny : { ...DEMO_DEFAULTS.other, lora: options.lora ?? DEMO_DEFAULTS.other.lora };
  const heldout = acrossTopics(demoScenarios('heldout'), options.heldoutScenarios ?? settings.heldoutScenarios);
  const maxNewTokens = options.config?.generation?.maxNewTokens ?? DEMO_DEFAULTS.maxNewTokens;

  const lora = settings.lora;
  const agent = await Agent.create({ model: path, ...modelSource(options), generation: { maxNewTokens, seed }, ...(lora ? { lora } : {}), ...(options.backend ? { backend: options.backend } : {}) }, { loraSeed: seed });
  const policy = agent.policy as ComputeBackend;
  const base = policy.reference ? await policy.reference() : await loadModel(path, modelSource(options));
  const evaluation = { seed, maxNewTokens };
  const measure = async (step: number): Promise<{ point: TrainingPoint; result: DemoEvaluation }> => {
    const result = await evaluateDemo(agent, heldout, evaluation);
    const kl = step === 0 ? 0 : await klToBase(base, result.conversations);
    const { reward_mean, polite_rate, mean_words } = result.metrics;
    log(`demo: step ${step}: reward ${reward_mean.toFixed(3)}, polite ${polite_rate.toFixed(3)}, words ${mean_words.toFixed(1)}, KL ${kl.toFixed(4)}`);
    return { point: { step, reward_mean, polite_rate, mean_words, kl }, result };
  };

  const before = await measure(0);
  const training: TrainingPoint[] = [before.point];
  let after = before;
  await train<DemoScenario>({
    agent,
    environment: demoEnvironment(),
    rewards: demoRewardFunctions(),
    scenarios: demoScenarios('train'),
    algorithm,
    config: deepMerge(deepMerge(settings.config, algorithm === 'ppo' ? DEMO_DEFAULTS.ppo : {}), {
      ...options.config,
      steps,
      seed,
      generation: { ...options.config?.generation, maxNewTokens },
    }) as DeepPartial<TrainerConfig>,
    tracking: options.tracking ?? { console: { quiet: true }, tensorboard: false },
    out: join(options.out, 'run'),
    describe: { demo: { model } },
    callbacks: {
      onStep: async (step) => {
        if (step % evalEvery !== 0 && step !== steps) return;
        after = await measure(step);
        training.push(after.point);
      },
    },
  });

  const report: DemoReport = {
    model,
    algorithm,
    steps,
    seed,
    before: before.result.metrics,
    after: after.result.metrics,
    kl_to_base: after.point.kl ?? 0,
    samples: samplesOf(before.result, after.result, options.samples ?? DEMO_TOPICS.length),
    training,
  };
  const files = await writeDemoReport(options.out, report);
  log(`demo: wrote ${files.json} and ${files.html}`);
  return report;
}

/** The first `count` scenarios, taken round-robin over topics so every topic is represented. */
function acrossTopics(scenarios: DemoScenario[], count = scenarios.length): DemoScenario[] {
  if (!(Number.isInteger(count) && count >= 1)) throw new StatesetError('ERR_INVALID_ARGUMENT', `heldoutScenarios must be a positive integer, got ${count}.`);
  const byTopic = DEMO_TOPICS.map((topic) => scenarios.filter((s) => s.metadata.topic === topic));
  const ordered = byTopic[0].flatMap((_, i) => byTopic.flatMap((list) => (i < list.length ? [list[i]] : [])));
  return ordered.slice(0, count);
}

function samplesOf(before: DemoEvaluation, after: DemoEvaluation, count: number): DemoSample[] {
  return before.conversations.slice(0, count).map((b, i) => ({
    scenario: b.scenario.id,
    before: b.messages.filter((m) => m.role !== 'system'),
    after: after.conversations[i].messages.filter((m) => m.role !== 'system'),
  }));
}

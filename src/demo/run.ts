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
import { deepMerge, type DeepPartial, type TrainerConfig } from '../train/config.js';
import type { TrackingOptions } from '../train/tracking.js';
import { evaluateDemo, type DemoEvaluation } from './evaluate.js';
import { acrossGroups, baseOf, samplesOf, trainMeasured } from './loop.js';
import { demoRewardFunctions } from './metrics.js';
import { demoModelPath, SHIPPED_MODEL_NAME } from './model-path.js';
import { writeDemoReport, type DemoReport, type TrainingPoint } from './report.js';
import { DEMO_TOPICS, demoEnvironment, demoScenarios, type DemoScenario } from './scenarios.js';

export type DemoAlgorithm = 'grpo' | 'gspo' | 'ppo';
export const DEMO_ALGORITHMS: readonly DemoAlgorithm[] = ['grpo', 'gspo', 'ppo'];

export interface DemoOptions extends ModelSource {
  /** 'tiny' (the example's shipped model, default), a model folder, a .gguf file or a Hub id (owner/name). */
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
  /** Held-out scenarios evaluated, taken across topics (intents). Default: the model kind's setting in the example's defaults. */
  heldoutScenarios?: number;
  /** Sample conversations in the report. Default: one per topic (intent). */
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
  const heldout = acrossGroups(demoScenarios('heldout'), DEMO_TOPICS, (s) => s.metadata.topic, options.heldoutScenarios ?? settings.heldoutScenarios);
  const maxNewTokens = options.config?.generation?.maxNewTokens ?? DEMO_DEFAULTS.maxNewTokens;

  const lora = settings.lora;
  const agent = await Agent.create({ model: path, ...modelSource(options), generation: { maxNewTokens, seed }, ...(lora ? { lora } : {}), ...(options.backend ? { backend: options.backend } : {}) }, { loraSeed: seed });
  const measurements = await trainMeasured<DemoScenario, DemoEvaluation>({
    agent,
    base: await baseOf(agent, path, modelSource(options)),
    evalEvery,
    evaluate: () => evaluateDemo(agent, heldout, { seed, maxNewTokens }),
    measured: ({ step, result, kl }) => {
      const { reward_mean, polite_rate, mean_words } = result.metrics;
      log(`demo: step ${step}: reward ${reward_mean.toFixed(3)}, polite ${polite_rate.toFixed(3)}, words ${mean_words.toFixed(1)}, KL ${kl.toFixed(4)}`);
    },
    train: {
      environment: demoEnvironment(),
      rewards: demoRewardFunctions(),
      scenarios: demoScenarios('train'),
      algorithm,
      config: deepMerge(deepMerge(settings.config, algorithm === 'ppo' ? DEMO_DEFAULTS.ppo : {}), {
        ...options.config,
        steps,
        seed,
        generation: { ...options.config?.generation, maxNewTokens },
      }) as DeepPartial<TrainerConfig> & { steps: number },
      tracking: options.tracking ?? { console: { quiet: true }, tensorboard: false },
      out: join(options.out, 'run'),
      describe: { demo: { model } },
    },
  });

  const before = measurements[0];
  const after = measurements.at(-1)!;
  const report: DemoReport = {
    model,
    algorithm,
    steps,
    seed,
    before: before.result.metrics,
    after: after.result.metrics,
    kl_to_base: after.kl,
    samples: samplesOf(before.result.conversations, after.result.conversations, options.samples ?? DEMO_TOPICS.length),
    training: measurements.map(({ step, result, kl }): TrainingPoint => ({ step, reward_mean: result.metrics.reward_mean, polite_rate: result.metrics.polite_rate, mean_words: result.metrics.mean_words, kl })),
  };
  const files = await writeDemoReport(options.out, report);
  log(`demo: wrote ${files.json} and ${files.html}`);
  return report;
}

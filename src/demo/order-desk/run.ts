/**
 * The order-desk demo, start to end: evaluate the model on the held-out scenarios, train
 * it with GRPO (or GSPO) and per-turn credit on the verifiable rewards, evaluating as it
 * goes, and write report.json and report.html. The run folder of the training is DIR/run.
 */
import { join } from 'node:path';
import { Agent } from '../../agent/agent.js';
import { modelSource } from '../../agent/config.js';
import { StatesetError } from '../../core/errors.js';
import { deepMerge, type DeepPartial, type TrainerConfig } from '../../train/config.js';
import { acrossGroups, baseOf, samplesOf, trainMeasured } from '../loop.js';
import { demoModelPath, ORDER_DESK_MODEL_DIR, SHIPPED_MODEL_NAME } from '../model-path.js';
import { DEMO_ALGORITHMS, DEMO_DEFAULTS, type DemoOptions, type DemoSettings } from '../run.js';
import { orderDeskEnvironment } from './environment.js';
import { evaluateOrderDesk, successByIntent, type OrderDeskEvaluation } from './evaluate.js';
import { writeOrderDeskReport, type OrderDeskReport } from './report.js';
import { orderDeskRewards } from './rewards.js';
import { ORDER_DESK_INTENTS, orderDeskScenarios, type OrderDeskScenario } from './scenarios.js';
import { ORDER_DESK_MAX_NEW_TOKENS, ORDER_DESK_ROLLOUT_TEMPERATURE } from './settings.js';

/** The customer-service demo's options; 'tiny' is models/order-desk-tiny, the held-out scenarios are taken across intents. */
export type OrderDeskOptions = DemoOptions;

/**
 * Per-turn credit ('turn'): each assistant message is credited with the rewards from its
 * own turn on, so a right lookup followed by a forbidden refund is told apart from a
 * wrong lookup.
 */
const EVERY_MODEL = { creditAssignment: 'turn', generation: { temperature: ORDER_DESK_ROLLOUT_TEMPERATURE }, maxGradNorm: 1.0, saveEvery: 0 } as const;

export const ORDER_DESK_DEFAULTS = {
  steps: 16,
  tiny: {
    heldoutScenarios: 40,
    config: { ...EVERY_MODEL, batchSize: 4, groupSize: 8, microBatchSize: 8, learningRate: 1e-4, loss: { beta: 0.05 }, samplesPerStep: 4 },
  } satisfies DemoSettings,
  other: {
    heldoutScenarios: 20,
    lora: { rank: 8, alpha: 16 },
    config: { ...EVERY_MODEL, batchSize: 2, groupSize: 6, microBatchSize: 2, activationCheckpointing: true, learningRate: 2e-3, loss: { beta: 0.1 }, samplesPerStep: 2 },
  } satisfies DemoSettings,
};

export async function runOrderDesk(options: OrderDeskOptions): Promise<OrderDeskReport> {
  const algorithm = options.algorithm ?? 'grpo';
  if (!DEMO_ALGORITHMS.includes(algorithm)) throw new StatesetError('ERR_INVALID_ARGUMENT', `the demo trains with ${DEMO_ALGORITHMS.join(' or ')}, not ${JSON.stringify(algorithm)}.`);
  const steps = options.steps ?? ORDER_DESK_DEFAULTS.steps;
  const seed = options.seed ?? 0;
  const log = options.log ?? ((line: string) => console.log(line));
  const model = options.model ?? SHIPPED_MODEL_NAME;
  const path = demoModelPath(model, ORDER_DESK_MODEL_DIR);
  const evalEvery = options.evalEvery ?? Math.max(1, Math.round(steps / 4));
  const settings: DemoSettings = model === SHIPPED_MODEL_NAME ? ORDER_DESK_DEFAULTS.tiny : { ...ORDER_DESK_DEFAULTS.other, lora: options.lora ?? ORDER_DESK_DEFAULTS.other.lora };
  const heldout = acrossGroups(orderDeskScenarios('heldout'), ORDER_DESK_INTENTS, (s) => s.metadata.intent, options.heldoutScenarios ?? settings.heldoutScenarios);
  const maxNewTokens = options.config?.generation?.maxNewTokens ?? ORDER_DESK_MAX_NEW_TOKENS;
  const config = deepMerge(deepMerge(settings.config, algorithm === 'ppo' ? DEMO_DEFAULTS.ppo : {}), { ...options.config, steps, seed, generation: { ...options.config?.generation, maxNewTokens } }) as DeepPartial<TrainerConfig> & { steps: number };

  const lora = settings.lora;
  const agent = await Agent.create({ model: path, ...modelSource(options), generation: { maxNewTokens, seed }, ...(lora ? { lora } : {}), ...(options.backend ? { backend: options.backend } : {}) }, { loraSeed: seed });
  const measurements = await trainMeasured<OrderDeskScenario, OrderDeskEvaluation>({
    agent,
    base: await baseOf(agent, path, modelSource(options)),
    evalEvery,
    evaluate: () => evaluateOrderDesk(agent, heldout, { seed, maxNewTokens }),
    measured: ({ step, result, kl }) => {
      const m = result.metrics;
      log(`order-desk: step ${step}: success ${m.success_rate.toFixed(3)}, tool calls ${m.tool_call_accuracy.toFixed(3)}, reward ${m.reward_mean.toFixed(3)}, KL ${kl.toFixed(4)}`);
    },
    train: {
      environment: orderDeskEnvironment(),
      rewards: orderDeskRewards(),
      scenarios: orderDeskScenarios('train'),
      algorithm,
      config,
      tracking: options.tracking ?? { console: { quiet: true }, tensorboard: false },
      out: join(options.out, 'run'),
      describe: { demo: { example: 'order-desk', model } },
    },
  });

  const before = measurements[0];
  const after = measurements.at(-1)!;
  const report: OrderDeskReport = {
    example: 'order-desk',
    model,
    algorithm,
    credit_assignment: String(config.creditAssignment),
    steps,
    seed,
    before: before.result.metrics,
    after: after.result.metrics,
    success_by_intent: { before: successByIntent(before.result.conversations), after: successByIntent(after.result.conversations) },
    kl_to_base: after.kl,
    samples: samplesOf(before.result.conversations, after.result.conversations, options.samples ?? ORDER_DESK_INTENTS.length),
    training: measurements.map(({ step, result, kl }) => ({ step, success_rate: result.metrics.success_rate, tool_call_accuracy: result.metrics.tool_call_accuracy, reward_mean: result.metrics.reward_mean, kl })),
  };
  const files = await writeOrderDeskReport(options.out, report);
  log(`order-desk: wrote ${files.json} and ${files.html}`);
  return report;
}

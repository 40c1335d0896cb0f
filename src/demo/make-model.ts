/**
 * Makes the demo's shipped model: a tiny GPT-2 (the project's tiny tokenizer and ChatML
 * template, random weights from a seed) fine-tuned with SFT, by the trainer, on the
 * synthetic customer-service corpus. The result answers on topic but is only sometimes
 * polite and often long: the starting point the RL demo improves. Same seed and steps,
 * same weights (on CPU).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent } from '../agent/agent.js';
import { demoCorpus } from './corpus.js';
import { evaluateDemo } from './evaluate.js';
import type { ReplyMetrics } from './metrics.js';
import { demoScenarios } from './scenarios.js';
import { makeSftModel, type SftModelRecipe } from './sft-model.js';

export interface MakeDemoModelOptions {
  outDir: string;
  /** Seed of the initial weights and of the data order. Default 0. */
  seed?: number;
  /** SFT steps. Default DEMO_MODEL_SFT.steps. */
  steps?: number;
  log?: (line: string) => void;
}

export interface DemoModelSummary {
  outDir: string;
  numParameters: number;
  sftSteps: number;
  /** SFT loss (mean per target token) of the last step. */
  finalLoss: number;
  /** The model on the held-out scenarios, before any RL. */
  heldout: ReplyMetrics;
}

/** The shape of the shipped model (GPT-2, MLP 4x hidden). */
export const DEMO_MODEL_SIZE = { hiddenSize: 192, numLayers: 4, numHeads: 6 } as const;

/** The SFT recipe of the shipped model. */
export const DEMO_MODEL_SFT = {
  steps: 600,
  batchSize: 16,
  learningRate: 3e-3,
  warmupSteps: 20,
} as const;

/** The whole recipe of the shipped model (see sft-model.ts). */
export const DEMO_MODEL_RECIPE: SftModelRecipe = { arch: 'gpt2', size: DEMO_MODEL_SIZE, ...DEMO_MODEL_SFT };

export async function makeDemoModel(options: MakeDemoModelOptions): Promise<DemoModelSummary> {
  const seed = options.seed ?? 0;
  const steps = options.steps ?? DEMO_MODEL_SFT.steps;
  const log = options.log ?? ((line: string) => console.log(line));
  const { numParameters, finalLoss } = await makeSftModel({
    outDir: options.outDir,
    seed,
    recipe: { ...DEMO_MODEL_RECIPE, steps },
    corpus: demoCorpus(demoScenarios('train')),
    corpusName: 'customer-service',
    logPrefix: 'make-demo-model',
    log,
  });
  const agent = await Agent.create({ model: options.outDir });
  const heldout = (await evaluateDemo(agent, demoScenarios('heldout'), { seed, maxNewTokens: 96 })).metrics;
  const summary = { outDir: options.outDir, numParameters, sftSteps: steps, finalLoss, heldout };
  await writeFile(join(options.outDir, 'README.md'), modelCard(summary, seed));
  return summary;
}

function modelCard(summary: DemoModelSummary, seed: number): string {
  const h = summary.heldout;
  return `# customer-service-tiny

The default model of \`stateset-agents demo\`: a ${summary.numParameters}-parameter GPT-2
(hidden ${DEMO_MODEL_SIZE.hiddenSize}, ${DEMO_MODEL_SIZE.numLayers} layers, ${DEMO_MODEL_SIZE.numHeads} heads, the project's tiny byte-level BPE tokenizer, ChatML) made by
\`npm run make:demo-model\` (src/demo/make-model.ts): random weights (seed ${seed}), then
${summary.sftSteps} SFT steps on the synthetic customer-service corpus (src/demo/corpus.ts),
whose replies are polite a third of the time and long two thirds of the time.

Before RL, on the held-out scenarios (one sampled conversation each, temperature 1):
reward ${h.reward_mean.toFixed(3)}, polite replies ${h.polite_rate.toFixed(3)},
${h.mean_words.toFixed(1)} words per reply, replies under 20 words ${h.concise_rate.toFixed(3)}.
Final SFT loss ${summary.finalLoss.toFixed(4)} nats per token.
`;
}

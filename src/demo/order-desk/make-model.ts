/**
 * Makes the order desk's shipped model (models/order-desk-tiny) with the demos' recipe
 * (sft-model.ts): a tiny Llama, SFT on the synthetic tool-use corpus (corpus.ts) whose
 * scripted agent follows the policy only part of the time. A Llama rather than the
 * customer-service demo's GPT-2: an order-desk episode (policy, tool calls and results,
 * up to six assistant messages) can pass GPT-2's 512 positions, and a Llama's rotary
 * positions stretch to 2048 with no new weights.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent } from '../../agent/agent.js';
import { makeSftModel, type SftModelRecipe } from '../sft-model.js';
import { orderDeskCorpus } from './corpus.js';
import { evaluateOrderDesk, type OrderDeskMetrics } from './evaluate.js';
import { ORDER_DESK_MAX_NEW_TOKENS } from './settings.js';
import { drawDistinct, ID_LETTERS, MONTHS, orderDeskScenarios } from './scenarios.js';
import { toolCallTokens } from './tool-call-tokens.js';

export const ORDER_DESK_MODEL_RECIPE: SftModelRecipe = {
  arch: 'llama',
  size: { hiddenSize: 128, numLayers: 4, numHeads: 4 },
  contextLength: 2048,
  addedTokens: toolCallTokens(),
  copyDrill: { steps: 1500, batchSize: 32, learningRate: 1e-3, code: drillCode },
  examples: 'conversation',
  steps: 600,
  batchSize: 16,
  microBatchSize: 4,
  learningRate: 1e-3,
  warmupSteps: 20,
};

/**
 * What the agent must copy: order ids (#QXKB) into calls, and into replies the facts a tool
 * returned (amounts, dates, addresses, case numbers). Street names are made-up words so
 * that the drill teaches copying a name never seen, as the held-out streets are.
 */
function drillCode(next: () => number): string {
  const digits = (n: number) => Array.from({ length: n }, () => Math.floor(next() * 10)).join('');
  const word = () => drawDistinct('BCDFGHKLMNPRSTVW', 1, next) + drawDistinct('aeiou', 1, next) + drawDistinct('bcdfglmnprstvw', 1, next) + drawDistinct('aeiou', 1, next) + drawDistinct('lnrst', 1, next);
  const kind = next();
  if (kind < 0.4) return `#${drawDistinct(ID_LETTERS, 4, next)}`;
  if (kind < 0.6) return `$${digits(2)}.${digits(2)}`;
  if (kind < 0.75) return `${MONTHS[Math.floor(next() * MONTHS.length)]} ${1 + Math.floor(next() * 28)}`;
  if (kind < 0.9) return `${1 + Math.floor(next() * 98)} ${word()} ${['Street', 'Road', 'Lane', 'Close', 'Drive', 'Row', 'View', 'Way'][Math.floor(next() * 8)]}`;
  return digits(4);
}

export interface MakeOrderDeskModelOptions {
  outDir: string;
  /** Seed of the initial weights and of the data order. Default 0. */
  seed?: number;
  /** SFT steps. Default ORDER_DESK_MODEL_RECIPE.steps. */
  steps?: number;
  log?: (line: string) => void;
}

export interface OrderDeskModelSummary {
  outDir: string;
  numParameters: number;
  sftSteps: number;
  finalLoss: number;
  /** The model on the held-out scenarios, before any RL. */
  heldout: OrderDeskMetrics;
}

export async function makeOrderDeskModel(options: MakeOrderDeskModelOptions): Promise<OrderDeskModelSummary> {
  const seed = options.seed ?? 0;
  const steps = options.steps ?? ORDER_DESK_MODEL_RECIPE.steps;
  const log = options.log ?? ((line: string) => console.log(line));
  const { numParameters, finalLoss } = await makeSftModel({
    outDir: options.outDir,
    seed,
    recipe: { ...ORDER_DESK_MODEL_RECIPE, steps },
    corpus: await orderDeskCorpus(orderDeskScenarios('train')),
    corpusName: 'order-desk',
    logPrefix: 'make-order-desk-model',
    log,
  });
  const agent = await Agent.create({ model: options.outDir });
  const heldout = (await evaluateOrderDesk(agent, orderDeskScenarios('heldout'), { seed, maxNewTokens: ORDER_DESK_MAX_NEW_TOKENS })).metrics;
  const summary = { outDir: options.outDir, numParameters, sftSteps: steps, finalLoss, heldout };
  await writeFile(join(options.outDir, 'README.md'), modelCard(summary, seed));
  return summary;
}

function modelCard(summary: OrderDeskModelSummary, seed: number): string {
  const { size, contextLength } = ORDER_DESK_MODEL_RECIPE;
  const h = summary.heldout;
  return `# order-desk-tiny

The default model of \`stateset-agents demo --example order-desk\`: a ${summary.numParameters}-parameter Llama
(hidden ${size.hiddenSize}, ${size.numLayers} layers, ${size.numHeads} heads, ${contextLength} positions, the project's tiny byte-level BPE
tokenizer with the tool-call syntax as ${ORDER_DESK_MODEL_RECIPE.addedTokens?.length ?? 0} added tokens, ChatML) made by \`npm run make:order-desk-model\` (src/demo/order-desk/make-model.ts): random
weights (seed ${seed}), ${ORDER_DESK_MODEL_RECIPE.copyDrill?.steps ?? 0} steps of copy drills (ids, amounts, dates, addresses and case
numbers repeated after filler text), then ${summary.sftSteps} SFT steps on the synthetic order-desk corpus
(src/demo/order-desk/corpus.ts), whose scripted agent skips the lookup 1 time in 5, breaks the
refund/address policy half the time it is asked to, and states the tool's fact in 3 answers of 5.

Before RL, on the ${h.episodes} held-out scenarios (one greedy conversation each):
success ${h.success_rate.toFixed(3)}; right tool ${h.right_tool.toFixed(3)}, no forbidden action ${h.no_forbidden_action.toFixed(3)},
states the tool's fact ${h.states_tool_fact.toFixed(3)}, no hallucinated data ${h.no_hallucinated_data.toFixed(3)};
tool-call accuracy ${h.tool_call_accuracy.toFixed(3)}, ${h.mean_turns.toFixed(2)} assistant messages per episode.
Final SFT loss ${summary.finalLoss.toFixed(4)} nats per token.
`;
}

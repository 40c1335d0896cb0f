/**
 * The recipe of the demos' shipped models: a tiny model (the project's tiny tokenizer and
 * ChatML template, random weights from a seed) fine-tuned with SFT on a synthetic corpus
 * of conversations. Same seed and steps, same weights (on CPU).
 *
 * Two ways to make the SFT examples:
 *   'message':      the trainer's dataset SFT: one example per assistant message, its
 *                   conversation so far as the prompt.
 *   'conversation': one example per conversation, every assistant message a target, its
 *                   tokens laid out as a rollout lays them out (the template text between
 *                   turns tokenized on its own). A tool-use conversation has four or five
 *                   assistant messages, and each 'message' example reads its whole prefix
 *                   again: this costs about a third as much for the same targets.
 * A recipe may start with copy drills (copy-drill.ts) before the SFT.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../agent/agent.js';
import { StatesetError } from '../core/errors.js';
import type { Message } from '../core/messages.js';
import { learningRate } from '../algorithms/schedule.js';
import { makeTinyModel, type TinySize } from '../io/models.js';
import type { Architecture } from '../io/types.js';
import { textAfterAssistantTurn } from '../rollout/turn-boundary.js';
import { itemsAt } from '../train/seeds.js';
import { sftBatch, type SftExample } from '../train/sft.js';
import { trainableModel } from '../train/trainable.js';
import { train } from '../train/trainer.js';
import { runCopyDrills, type CopyDrill } from './copy-drill.js';

export interface SftModelRecipe {
  arch: Architecture;
  size: Required<TinySize>;
  /**
   * Positions the model reads, when more than the tiny model's 512. Llama only: rotary
   * positions have no learned table, so a longer context is a setting, not new weights.
   */
  contextLength?: number;
  /** Strings that encode as one token each (makeTinyModel's addedTokens); none by default. */
  addedTokens?: string[];
  /** Copy drills before the SFT (copy-drill.ts); none by default. */
  copyDrill?: CopyDrill;
  /** Default 'message' (see the file comment). */
  examples?: 'message' | 'conversation';
  steps: number;
  batchSize: number;
  /** Sequences per forward/backward pass ('conversation' only). Default batchSize. */
  microBatchSize?: number;
  learningRate: number;
  warmupSteps: number;
}

export interface MakeSftModelOptions {
  outDir: string;
  seed: number;
  recipe: SftModelRecipe;
  /** Whole conversations; every assistant message is a target. */
  corpus: Message[][];
  /** Names the corpus in the progress lines. */
  corpusName: string;
  /** Progress lines start with it, e.g. 'make-demo-model'. */
  logPrefix: string;
  log: (line: string) => void;
}

export interface SftModelResult {
  numParameters: number;
  /** SFT loss (mean per target token) of the last step. */
  finalLoss: number;
}

/** Makes the tiny model, trains it on the corpus and saves it into `outDir`. */
export async function makeSftModel(options: MakeSftModelOptions): Promise<SftModelResult> {
  const { outDir, seed, recipe, log, logPrefix } = options;
  const { steps } = recipe;
  const work = await mkdtemp(join(tmpdir(), 'stateset-demo-model-'));
  try {
    const baseDir = join(work, 'base');
    const info = makeTinyModel({ arch: recipe.arch, outDir: baseDir, seed, size: recipe.size, ...(recipe.addedTokens ? { addedTokens: recipe.addedTokens } : {}) });
    if (recipe.contextLength !== undefined) await setContextLength(baseDir, recipe.arch, recipe.contextLength);
    log(`${logPrefix}: ${info.config.numParameters} parameters; SFT for ${steps} steps on the ${options.corpusName} corpus`);
    const progress = (step: number, loss: number) => (step % 50 === 0 || step === steps ? log(`${logPrefix}: step ${step}/${steps}, loss ${loss.toFixed(4)}`) : undefined);
    const agent = await Agent.create({ model: baseDir });
    if (recipe.copyDrill) {
      const drills = recipe.copyDrill.steps;
      const filler = options.corpus.flatMap((conversation) => conversation.filter((m) => m.role !== 'system').map((m) => m.content));
      await runCopyDrills(trainableModel(agent), recipe.copyDrill, filler, seed, (step, loss) => (step % 100 === 0 || step === drills ? log(`${logPrefix}: copy drill ${step}/${drills}, loss ${loss.toFixed(4)}`) : undefined));
    }
    const trained = recipe.examples === 'conversation' ? await sftOnConversations(agent, options, progress) : await sftOnMessages(agent, options, join(work, 'run'), progress);
    await trainableModel(trained.agent).save(outDir);
    return { numParameters: info.config.numParameters, finalLoss: trained.finalLoss };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

type Progress = (step: number, loss: number) => void;

/** The trainer's dataset SFT. */
async function sftOnMessages(agent: Agent, options: MakeSftModelOptions, out: string, progress: Progress): Promise<{ agent: Agent; finalLoss: number }> {
  const { seed, recipe } = options;
  const sft = await train({
    agent,
    algorithm: 'sft',
    dataset: options.corpus.map((messages) => ({ messages })),
    config: {
      steps: recipe.steps,
      seed,
      batchSize: recipe.batchSize,
      microBatchSize: recipe.batchSize,
      learningRate: recipe.learningRate,
      lrSchedule: 'cosine',
      warmupSteps: recipe.warmupSteps,
      saveEvery: 0,
    },
    tracking: { console: false, tensorboard: false },
    out,
    callbacks: { onStep: (step, metrics) => progress(step, Number(metrics.loss)) },
  });
  return { agent: sft.agent, finalLoss: Number(sft.lastMetrics?.loss) };
}

/**
 * SFT on whole conversations: the trainer's schedule (cosine after a linear warmup), its
 * seeded data order and its optimizer settings, on one example per conversation.
 */
async function sftOnConversations(agent: Agent, options: MakeSftModelOptions, progress: Progress): Promise<{ agent: Agent; finalLoss: number }> {
  const { seed, recipe } = options;
  const examples = options.corpus.map((messages) => conversationExample(agent, messages));
  const model = trainableModel(agent);
  const schedule = { kind: 'cosine', lr: recipe.learningRate, warmupSteps: recipe.warmupSteps, totalSteps: recipe.steps } as const;
  let finalLoss = NaN;
  for (let step = 0; step < recipe.steps; step++) {
    const picked = itemsAt(examples.length, step * recipe.batchSize, recipe.batchSize, seed).map((i) => examples[i]);
    const metrics = await model.trainStep(sftBatch(picked), {
      loss: 'sft',
      learningRate: learningRate(schedule, step),
      microBatchSize: recipe.microBatchSize ?? recipe.batchSize,
      maxGradNorm: 1,
      weightDecay: 0,
    });
    finalLoss = metrics.loss;
    progress(step + 1, finalLoss);
  }
  return { agent, finalLoss };
}

/** One conversation as one example: every assistant message (and its end-of-turn token) a target. */
export function conversationExample(agent: Agent, conversation: Message[]): SftExample {
  const messages = agent.withSystemPrompt(conversation);
  const first = messages.findIndex((m) => m.role === 'assistant');
  if (first < 1) throw new StatesetError('ERR_INVALID_DATASET', 'an SFT conversation needs an assistant message after at least one other message.');
  const endOfTurn = agent.stopTokenIds[0];
  const sequence = [...agent.encodePrompt(messages.slice(0, first))];
  const mask = sequence.map(() => 0);
  const append = (ids: ArrayLike<number>, m: 0 | 1) => {
    for (let i = 0; i < ids.length; i++) {
      sequence.push(ids[i]);
      mask.push(m);
    }
  };
  for (let k = first; k < messages.length; ) {
    append([...agent.policy.tokenize(messages[k].content), endOfTurn], 1);
    let next = k + 1;
    while (next < messages.length && messages[next].role !== 'assistant') next++;
    if (next === messages.length) break;
    append(agent.policy.tokenize(textAfterAssistantTurn(agent.template, messages.slice(0, k), messages.slice(k + 1, next), undefined, agent.policy.detokenize(Int32Array.of(endOfTurn)))), 0);
    k = next;
  }
  return { sequence: Int32Array.from(sequence), mask: Uint8Array.from(mask) };
}


/** Rewrites the context length of a freshly made tiny Llama (config.json and the tokenizer's limit). */
async function setContextLength(dir: string, arch: Architecture, contextLength: number): Promise<void> {
  if (arch !== 'llama') throw new StatesetError('ERR_INVALID_ARGUMENT', `contextLength needs a Llama model (rotary positions); a ${arch} model has a position table of 512.`);
  if (!(Number.isSafeInteger(contextLength) && contextLength >= 512)) throw new StatesetError('ERR_INVALID_ARGUMENT', `contextLength must be an integer >= 512, got ${contextLength}.`);
  const edit = async (file: string, key: string) => {
    const path = join(dir, file);
    const json = JSON.parse(await readFile(path, 'utf8'));
    json[key] = contextLength;
    await writeFile(path, JSON.stringify(json, null, 2) + '\n');
  };
  await edit('config.json', 'max_position_embeddings');
  await edit('tokenizer_config.json', 'model_max_length');
}

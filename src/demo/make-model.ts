/**
 * Makes the demo's shipped model: a tiny GPT-2 (the project's tiny tokenizer and ChatML
 * template, random weights from a seed) fine-tuned with SFT, by the trainer, on the
 * synthetic customer-service corpus. The result answers on topic but is only sometimes
 * polite and often long: the starting point the RL demo improves. Same seed and steps,
 * same weights (on CPU).
 */
import { fork } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent } from '../agent/agent.js';
import { StatesetError } from '../core/errors.js';
import { makeTinyModel } from '../io/models.js';
import { evaluateDemo } from './evaluate.js';
import type { ReplyMetrics } from './metrics.js';
import { demoScenarios } from './scenarios.js';
import type { SftSegment } from './sft-segment.js';

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

/** The SFT recipe of the shipped model. */
export const DEMO_MODEL_SFT = {
  steps: 100,
  batchSize: 16,
  learningRate: 1e-2,
  warmupSteps: 10,
} as const;

export async function makeDemoModel(options: MakeDemoModelOptions): Promise<DemoModelSummary> {
  const seed = options.seed ?? 0;
  const steps = options.steps ?? DEMO_MODEL_SFT.steps;
  const log = options.log ?? ((line: string) => console.log(line));
  const work = await mkdtemp(join(tmpdir(), 'stateset-demo-model-'));
  try {
    const baseDir = join(work, 'base');
    const info = makeTinyModel({ arch: 'gpt2', outDir: baseDir, seed });
    log(`make-demo-model: ${info.config.numParameters} parameters; SFT for ${steps} steps on the customer-service corpus`);
    let finalLoss = NaN;
    // Each segment runs in its own process and resumes the run from its checkpoint (bit
    // for bit on CPU): the native training step's memory grows with every step, and a
    // fresh process returns it.
    for (let upTo = Math.min(STEPS_PER_PROCESS, steps), first = true; ; upTo = Math.min(upTo + STEPS_PER_PROCESS, steps), first = false) {
      finalLoss = await inChildProcess({ ...DEMO_MODEL_SFT, baseDir, runDir: join(work, 'run'), outDir: options.outDir, upTo, resume: !first, seed, totalSteps: steps });
      log(`make-demo-model: step ${upTo}/${steps}, loss ${finalLoss.toFixed(4)}`);
      if (upTo >= steps) break;
    }
    const agent = await Agent.create({ model: options.outDir });
    const heldout = (await evaluateDemo(agent, demoScenarios('heldout'), { seed, maxNewTokens: 96 })).metrics;
    const summary = { outDir: options.outDir, numParameters: info.config.numParameters, sftSteps: steps, finalLoss, heldout };
    await writeFile(join(options.outDir, 'README.md'), modelCard(summary, seed));
    return summary;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** SFT steps per child process. */
const STEPS_PER_PROCESS = 20;

function inChildProcess(segment: SftSegment): Promise<number> {
  const here = fileURLToPath(import.meta.url);
  const worker = join(dirname(here), `sft-segment${extname(here)}`);
  return new Promise((resolve, reject) => {
    const child = fork(worker, [JSON.stringify(segment)], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
    let out = '';
    child.stdout!.on('data', (chunk) => (out += chunk));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0) resolve(JSON.parse(out).loss);
      else reject(new StatesetError('ERR_COMPUTE', `an SFT segment of the demo model failed (exit code ${code}); see its output above.`));
    });
  });
}

function modelCard(summary: DemoModelSummary, seed: number): string {
  const h = summary.heldout;
  return `# customer-service-tiny

The default model of \`stateset-agents demo\`: a ${summary.numParameters}-parameter GPT-2
(hidden 64, 2 layers, the project's tiny byte-level BPE tokenizer, ChatML) made by
\`npm run make:demo-model\` (src/demo/make-model.ts): random weights (seed ${seed}), then
${summary.sftSteps} SFT steps on the synthetic customer-service corpus (src/demo/corpus.ts),
whose replies are polite a third of the time and long two thirds of the time.

Before RL, on the held-out scenarios (one sampled conversation each, temperature 1):
reward ${h.reward_mean.toFixed(3)}, polite replies ${h.polite_rate.toFixed(3)},
${h.mean_words.toFixed(1)} words per reply, replies under 20 words ${h.concise_rate.toFixed(3)}.
Final SFT loss ${summary.finalLoss.toFixed(4)} nats per token.
`;
}

/**
 * One segment of the shipped model's SFT, run in a child process by makeDemoModel: trains
 * the run in `runDir` up to step `upTo` (resuming from its newest checkpoint after the
 * first segment) and, at the last segment, saves the model to `outDir`.
 */
import { Agent } from '../agent/agent.js';
import { trainableModel } from '../train/trainable.js';
import { train } from '../train/trainer.js';
import { demoCorpus } from './corpus.js';
import { demoScenarios } from './scenarios.js';

export interface SftSegment {
  baseDir: string;
  runDir: string;
  outDir: string;
  /** Stop after this step (the lr schedule still spans totalSteps). */
  upTo: number;
  /** Continue the run in runDir (every segment but the first). */
  resume: boolean;
  seed: number;
  batchSize: number;
  learningRate: number;
  warmupSteps: number;
  totalSteps: number;
}

export async function runSftSegment(segment: SftSegment): Promise<number> {
  const agent = await Agent.create({ model: segment.baseDir });
  const stop = new AbortController();
  const result = await train({
    agent,
    algorithm: 'sft',
    dataset: demoCorpus(demoScenarios('train')).map((messages) => ({ messages })),
    config: {
      steps: segment.totalSteps,
      seed: segment.seed,
      batchSize: segment.batchSize,
      microBatchSize: segment.batchSize,
      learningRate: segment.learningRate,
      lrSchedule: 'cosine',
      warmupSteps: segment.warmupSteps,
      saveEvery: 0,
    },
    tracking: { console: false, tensorboard: false },
    out: segment.runDir,
    resume: segment.resume,
    signal: stop.signal,
    callbacks: { onStep: (step) => (step >= segment.upTo ? stop.abort() : undefined) },
  });
  if (result.step >= segment.totalSteps) await trainableModel(result.agent).save(segment.outDir);
  return Number(result.lastMetrics?.loss);
}

// Run as a child process: the segment as JSON in argv, the final loss as JSON on stdout.
if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const loss = await runSftSegment(JSON.parse(process.argv[2]) as SftSegment);
  process.stdout.write(JSON.stringify({ loss }));
}

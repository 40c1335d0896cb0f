/**
 * `npm run bench:engine`: scoring and generation speed of the model engine, against the
 * machine's own ceilings measured in the same run. Prints JSON.
 *
 * - scoring: model FLOPs (2 x parameters x tokens) per second as a fraction of the f32
 *   matmul peak;
 * - decoding: the time of one batched decode step against its physical bound,
 *   max(weight bytes / copy bandwidth, step FLOPs / matmul peak).
 *
 * The ceilings are the best of measurements taken before and after the model runs: on a
 * machine shared with other work, one short measurement may catch a busy moment.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadModel, makeTinyModel, measureMachine, randomModel, type MachineCeilings, type Model } from '../src/index.js';
import { SMOLLM2_135M_SHAPE } from './shapes.js';


const PROMPT_TOKENS = 16;
const BATCHES = [1, 8, 32];
/** Decode steps are timed as the difference of two generation lengths (prefill cancels). */
const SHORT = 4;
const LONG = 20;

async function bestSeconds(run: () => Promise<unknown>, rounds = 3): Promise<number> {
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    await run();
    best = Math.min(best, (performance.now() - start) / 1000);
  }
  return best;
}

function tokens(count: number, length: number, vocab: number, salt: number): Int32Array[] {
  return Array.from({ length: count }, (_, s) => Int32Array.from({ length }, (_, i) => (i * 7919 + s * 104729 + salt) % vocab));
}

interface Timings {
  model: string;
  parameters: number;
  scoredTokens: number;
  scoreSeconds: number;
  scoreShape: [number, number];
  generation: Array<{ batch: number; longSeconds: number; stepSeconds: number }>;
}

async function time(name: string, model: Model, scoreShape: [number, number]): Promise<Timings> {
  const vocab = model.config.vocabSize;
  const [rows, length] = scoreShape;
  const seqs = tokens(rows, length, vocab, 1);
  await model.score(seqs); // warm-up
  const scoreSeconds = await bestSeconds(() => model.score(seqs));
  const generation = [];
  for (const batch of BATCHES) {
    const prompts = tokens(batch, PROMPT_TOKENS, vocab, 2);
    const run = (maxNewTokens: number) => () => model.generate(prompts, { maxNewTokens, stopTokenIds: [], seed: 1 });
    await run(SHORT)();
    const short = await bestSeconds(run(SHORT));
    const long = await bestSeconds(run(LONG));
    generation.push({ batch, longSeconds: long, stepSeconds: (long - short) / (LONG - SHORT) });
  }
  return { model: name, parameters: model.config.numParameters, scoredTokens: rows * (length - 1), scoreSeconds, scoreShape, generation };
}

function report(t: Timings, machine: MachineCeilings) {
  const flops = (2 * t.parameters * t.scoredTokens) / t.scoreSeconds;
  return {
    model: t.model,
    parameters: t.parameters,
    scoring: {
      sequences: t.scoreShape[0],
      length: t.scoreShape[1],
      tokens_per_s: round(t.scoredTokens / t.scoreSeconds),
      gflops: round(flops / 1e9),
      fraction_of_matmul_peak: round(flops / (machine.matmulGflops * 1e9)),
    },
    generation: t.generation.map((g) => {
      const weightBound = (4 * t.parameters) / (machine.copyGbps * 1e9);
      const flopBound = (2 * t.parameters * g.batch) / (machine.matmulGflops * 1e9);
      const bound = Math.max(weightBound, flopBound);
      return {
        batch: g.batch,
        tokens_per_s: round((g.batch * LONG) / g.longSeconds),
        decode_step_ms: round(g.stepSeconds * 1000),
        decode_step_bound_ms: round(bound * 1000),
        bound_kind: weightBound >= flopBound ? 'weight bytes / copy bandwidth' : 'step FLOPs / matmul peak',
        step_over_bound: round(g.stepSeconds / bound),
      };
    }),
  };
}

const before = measureMachine();
const dir = mkdtempSync(join(tmpdir(), 'stateset-bench-'));
try {
  makeTinyModel({ arch: 'llama', outDir: dir, seed: 1 });
  const tiny = await loadModel(dir);
  const smol = await randomModel(SMOLLM2_135M_SHAPE, { seed: 1 });
  const timings = [await time('tiny-llama', tiny, [16, 128]), await time('smollm2-135m-shape', smol, [4, 128])];
  const after = measureMachine();
  const machine = { matmulGflops: Math.max(before.matmulGflops, after.matmulGflops), copyGbps: Math.max(before.copyGbps, after.copyGbps) };
  console.log(
    JSON.stringify(
      {
        threads: Number(process.env.RAYON_NUM_THREADS),
        matmul_peak_gflops: round(machine.matmulGflops),
        copy_gbps: round(machine.copyGbps),
        prompt_tokens: PROMPT_TOKENS,
        results: timings.map((t) => report(t, machine)),
      },
      null,
      2,
    ),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

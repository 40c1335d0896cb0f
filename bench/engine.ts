/**
 * `npm run bench:engine`: scoring and generation speed of the model engine, against the
 * machine's own ceilings measured in the same run. Prints JSON.
 *
 * - scoring: model FLOPs (2 x parameters x tokens) per second as a fraction of the f32
 *   matmul peak;
 * - decoding: the time of one batched decode step against its physical bound,
 *   max(weight bytes / copy bandwidth, step FLOPs / matmul peak).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadModel, makeTinyModel, measureMachine, randomModel, type Model } from '../src/index.js';

const SMOLLM2_135M_SHAPE = {
  model_type: 'llama',
  hidden_size: 576,
  num_hidden_layers: 30,
  num_attention_heads: 9,
  num_key_value_heads: 3,
  intermediate_size: 1536,
  vocab_size: 49152,
  max_position_embeddings: 2048,
  rope_theta: 100000,
  tie_word_embeddings: true,
};

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

async function measure(name: string, model: Model, machine: ReturnType<typeof measureMachine>, scoreShape: [number, number]) {
  const params = model.config.numParameters;
  const vocab = model.config.vocabSize;
  const [rows, length] = scoreShape;
  const seqs = tokens(rows, length, vocab, 1);
  await model.score(seqs); // warm-up
  const scoreSeconds = await bestSeconds(() => model.score(seqs));
  const scored = rows * (length - 1);
  const scoreFlops = (2 * params * scored) / scoreSeconds;

  const generation = [];
  for (const batch of BATCHES) {
    const prompts = tokens(batch, PROMPT_TOKENS, vocab, 2);
    const run = (maxNewTokens: number) => () => model.generate(prompts, { maxNewTokens, stopTokenIds: [], seed: 1 });
    await run(SHORT)();
    const short = await bestSeconds(run(SHORT));
    const long = await bestSeconds(run(LONG));
    const step = (long - short) / (LONG - SHORT);
    const weightBound = (4 * params) / (machine.copyGbps * 1e9);
    const flopBound = (2 * params * batch) / (machine.matmulGflops * 1e9);
    const bound = Math.max(weightBound, flopBound);
    generation.push({
      batch,
      tokens_per_s: round((batch * LONG) / long),
      decode_step_ms: round(step * 1000),
      decode_step_bound_ms: round(bound * 1000),
      bound_kind: weightBound >= flopBound ? 'weight bytes / copy bandwidth' : 'step FLOPs / matmul peak',
      step_over_bound: round(step / bound),
    });
  }
  return {
    model: name,
    parameters: params,
    scoring: {
      sequences: rows,
      length,
      tokens_per_s: round(scored / scoreSeconds),
      gflops: round(scoreFlops / 1e9),
      fraction_of_matmul_peak: round(scoreFlops / (machine.matmulGflops * 1e9)),
    },
    generation,
  };
}

const machine = measureMachine();
const dir = mkdtempSync(join(tmpdir(), 'stateset-bench-'));
try {
  makeTinyModel({ arch: 'llama', outDir: dir, seed: 1 });
  const tiny = await loadModel(dir);
  const smol = await randomModel(SMOLLM2_135M_SHAPE, { seed: 1 });
  const results = [await measure('tiny-llama', tiny, machine, [16, 128]), await measure('smollm2-135m-shape', smol, machine, [4, 128])];
  console.log(
    JSON.stringify(
      {
        threads: Number(process.env.RAYON_NUM_THREADS),
        matmul_peak_gflops: round(machine.matmulGflops),
        copy_gbps: round(machine.copyGbps),
        prompt_tokens: PROMPT_TOKENS,
        results,
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

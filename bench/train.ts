/**
 * `npm run bench:train`: training speed (forward + backward + optimizer) and peak memory
 * of `trainStep`, for the tiny model and the SmolLM2-135M shape (random weights), full
 * fine-tuning and LoRA, on batches of 8 x 256 tokens. Prints JSON.
 *
 * Each configuration runs in its own child process, so that its peak RSS is its own.
 * Achieved FLOP/s (6 x parameters x tokens per step: forward 2, backward 4) are reported
 * against the f32 matmul peak measured in the same child, right after it trains. LoRA
 * is reported against the same 6 x parameters for comparison, although its frozen weights
 * get no gradient (the layer-wise engine, crates/rl-core/src/layerwise), so it does about two thirds of that
 * work. Each 135M run reports its last step by phase (forward, head, backward, optimizer, other).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { loadModel, makeTinyModel, measureMachine, randomModel, type LoraOptions, type Model } from '../src/index.js';
import { SMOLLM2_135M_SHAPE } from './shapes.js';


const BATCH = 8;
const LENGTH = 256;
const LORA: LoraOptions = { rank: 16, alpha: 32 };

interface Run {
  model: 'tiny-llama' | 'smollm2-135m-shape';
  lora: boolean;
  /** Timed steps after one warm-up step. */
  steps: number;
  /**
   * Sequences per forward / backward pass. Without activation checkpointing, the 135M
   * shape keeps about 1.5 GB of activations per 256-token sequence.
   */
  microBatchSize: number;
  activationCheckpointing: boolean;
}

const RUNS: Run[] = [
  { model: 'tiny-llama', lora: false, steps: 5, microBatchSize: BATCH, activationCheckpointing: false },
  { model: 'tiny-llama', lora: true, steps: 5, microBatchSize: BATCH, activationCheckpointing: false },
  // The 135M shape without recompute: micro-batches of 4 keep the full fine-tune under 3.5 GiB.
  { model: 'smollm2-135m-shape', lora: false, steps: 2, microBatchSize: 4, activationCheckpointing: false },
  { model: 'smollm2-135m-shape', lora: true, steps: 2, microBatchSize: 4, activationCheckpointing: false },
  // With block recompute (the memory fallback), whole batch per pass.
  { model: 'smollm2-135m-shape', lora: false, steps: 1, microBatchSize: BATCH, activationCheckpointing: true },
  { model: 'smollm2-135m-shape', lora: true, steps: 1, microBatchSize: BATCH, activationCheckpointing: true },
];

async function load(run: Run): Promise<{ model: Model; cleanup: () => void }> {
  const lora = run.lora ? LORA : undefined;
  if (run.model === 'smollm2-135m-shape') return { model: await randomModel(SMOLLM2_135M_SHAPE, { seed: 1, lora }), cleanup: () => {} };
  const dir = mkdtempSync(join(tmpdir(), 'stateset-bench-'));
  makeTinyModel({ arch: 'llama', outDir: dir, seed: 1 });
  return { model: await loadModel(dir, { lora }), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A GRPO-shaped batch: 32 prompt tokens, 224 completion tokens with rollout log-probs. */
function batch(vocab: number) {
  const sequences = Array.from({ length: BATCH }, (_, s) => Int32Array.from({ length: LENGTH }, (_, i) => (i * 7919 + s * 104729) % vocab));
  const masks = sequences.map((seq) => Uint8Array.from(seq, (_, i) => (i >= 32 ? 1 : 0)));
  const oldLogprobs = sequences.map((seq) => Float32Array.from(seq, (_, i) => (i >= 32 ? -Math.log(vocab) : 0)));
  return { sequences, masks, oldLogprobs, advantages: Float32Array.from({ length: BATCH }, (_, i) => (i % 2 ? 1 : -1)) };
}

async function child(run: Run) {
  const { model, cleanup } = await load(run);
  try {
    const params = model.config.numParameters;
    const data = batch(model.config.vocabSize);
    const config = { learningRate: 1e-5, microBatchSize: run.microBatchSize, activationCheckpointing: run.activationCheckpointing };
    await model.trainStep(data, config);
    const start = performance.now();
    let phases: Record<string, number> | undefined;
    for (let s = 0; s < run.steps; s++) phases = (await model.trainStep(data, config)).phases as Record<string, number> | undefined;
    const seconds = (performance.now() - start) / 1000 / run.steps;
    const tokens = BATCH * LENGTH;
    const flops = (6 * params * tokens) / seconds;
    // Read before the machine probe, whose buffers would raise the high-water mark.
    const peakRss = process.resourceUsage().maxRSS;
    const machine = measureMachine();
    return {
      model: run.model,
      mode: run.lora ? `lora r${(LORA as { rank: number }).rank} (attention q/k/v/o)` : 'full fine-tune',
      parameters: params,
      batch: `${BATCH} x ${LENGTH}`,
      micro_batch: run.microBatchSize,
      activation_checkpointing: run.activationCheckpointing,
      step_s: round(seconds),
      tokens_per_s: round(tokens / seconds),
      gflops: round(flops / 1e9),
      matmul_peak_gflops: round(machine.matmulGflops),
      fraction_of_matmul_peak: round(flops / (machine.matmulGflops * 1e9)),
      peak_rss_mib: Math.round(peakRss / 1024),
      // The last timed step by phase (the layer-wise engine's; absent on candle's path).
      ...(phases ? { phases_s: Object.fromEntries(Object.entries(phases).map(([k, v]) => [k.replace(/_s$/, ''), round(v)])) } : {}),
    };
  } finally {
    cleanup();
  }
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

const arg = process.argv[2];
if (arg) {
  console.log(JSON.stringify(await child(JSON.parse(arg) as Run)));
} else {
  const results = RUNS.map((run) => {
    const out = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), JSON.stringify(run)], { encoding: 'utf8' });
    if (out.status !== 0) return { ...run, error: `${out.signal ?? `exit ${out.status}`}: ${out.stderr.trim().split('\n').slice(-3).join(' ')}` };
    return JSON.parse(out.stdout.trim().split('\n').at(-1)!);
  });
  // LoRA against the full fine-tune of the same model, micro-batching and recompute.
  const step = (lora: boolean, i: number) => results.find((r, j) => j % 2 === (lora ? 1 : 0) && Math.floor(j / 2) === i)?.step_s;
  const loraOverFull = [0, 1, 2].map((i) => ({ run: RUNS[2 * i].model + (RUNS[2 * i].activationCheckpointing ? ' recompute' : '') + ` micro ${RUNS[2 * i].microBatchSize}`, lora_over_full: round(step(true, i) / step(false, i)) }));
  console.log(JSON.stringify({ threads: Number(process.env.RAYON_NUM_THREADS) || null, results, lora_step_over_full_step: loraOverFull }, null, 2));
}

/**
 * Copy drills: a warm-up for a tiny model before its SFT, so that it can repeat a code it
 * read earlier (an order id, an amount). Each drill is a stretch of corpus text, a code,
 * more corpus text and the code again; the loss is on the repeated code after its first
 * symbol, which only attention to the earlier copy can predict.
 *
 * Why: SFT on the order desk's transcripts alone never taught the 0.7M-parameter model to
 * copy an order id it had not seen (600 steps at learning rates from 5e-4 to 3e-3: it wrote
 * ids it had memorized), while 600 drill steps of a few dozen tokens, about 3 minutes on
 * one core, gave it the mechanism, and the SFT that followed used it.
 */
import type { ComputeBackend } from '../backends/compute-backend.js';
import { random } from '../train/seeds.js';

export interface CopyDrill {
  steps: number;
  /** Drills per step. */
  batchSize: number;
  /** Constant over the drill steps. */
  learningRate: number;
  /** A code to repeat, drawn with `next` (uniform in [0, 1)). */
  code: (next: () => number) => string;
}

/** Longest stretch of filler text, in tokens, on either side of the first copy. */
const FILLER_TOKENS = 30;

/** Trains `model` on copy drills around `filler` texts; returns the last step's loss. */
export async function runCopyDrills(model: ComputeBackend, drill: CopyDrill, filler: string[], seed: number, progress: (step: number, loss: number) => void): Promise<number> {
  const next = random(seed);
  const stretch = () => Array.from(model.tokenize(' ' + filler[Math.floor(next() * filler.length)])).slice(0, Math.floor(next() * FILLER_TOKENS));
  let loss = NaN;
  for (let step = 0; step < drill.steps; step++) {
    const sequences: Int32Array[] = [];
    const masks: Uint8Array[] = [];
    for (let b = 0; b < drill.batchSize; b++) {
      const code = drill.code(next);
      const repeated = Array.from(model.tokenize(code));
      const sequence = [...stretch(), ...model.tokenize(` ${code} `), ...stretch(), ...repeated];
      const from = sequence.length - repeated.length + 1;
      sequences.push(Int32Array.from(sequence));
      masks.push(Uint8Array.from(sequence, (_, i) => (i >= from ? 1 : 0)));
    }
    const metrics = await model.trainStep({ sequences, masks }, { loss: 'sft', learningRate: drill.learningRate, microBatchSize: drill.batchSize, maxGradNorm: 1, weightDecay: 0 });
    loss = metrics.loss;
    progress(step + 1, loss);
  }
  return loss;
}

/**
 * How the scores of several reward functions become one reward per sample
 * (ALGORITHMS.md section 6). NaN is a failed score: it is skipped; a sample whose every
 * score failed gets NaN (a missing reward, left out of the advantages), and so does one
 * whose weights carry the combination past the float32 range.
 */
import { scoreOrMissing } from './types.js';

export type CombineMode = 'weighted_sum' | 'min' | 'max' | 'normalize_then_sum';

export const COMBINE_MODES: readonly CombineMode[] = ['weighted_sum', 'min', 'max', 'normalize_then_sum'];

/** Added to the std in normalize_then_sum, as in group advantages. */
const NORMALIZE_EPS = 1e-4;

/**
 * `scores[f][i]`: function f's score of sample i (one group's samples for
 * normalize_then_sum). min and max take the weighted scores w_f * s_f.
 */
export function combineScores(scores: number[][], weights: number[], mode: CombineMode): Float32Array {
  const samples = scores[0]?.length ?? 0;
  const used = mode === 'normalize_then_sum' ? scores.map(zScores) : scores;
  const out = new Float32Array(samples);
  for (let i = 0; i < samples; i++) {
    const weighted = used.map((s, f) => weights[f] * s[i]).filter(Number.isFinite);
    if (weighted.length === 0) out[i] = NaN;
    else if (mode === 'min') out[i] = scoreOrMissing(Math.min(...weighted));
    else if (mode === 'max') out[i] = scoreOrMissing(Math.max(...weighted));
    else out[i] = scoreOrMissing(weighted.reduce((a, b) => a + b, 0));
  }
  return out;
}

/** (s - mean) / (sample std + eps) over the finite scores; 0 when they cannot vary. */
function zScores(values: number[]): number[] {
  const valid = values.filter(Number.isFinite);
  if (valid.length < 2) return values.map((v) => (Number.isFinite(v) ? 0 : NaN));
  const mean = valid.reduce((a, b) => a + b, 0) / valid.length;
  const std = Math.sqrt(valid.reduce((a, v) => a + (v - mean) ** 2, 0) / (valid.length - 1));
  return values.map((v) => (Number.isFinite(v) ? (std === 0 ? 0 : (v - mean) / (std + NORMALIZE_EPS)) : NaN));
}

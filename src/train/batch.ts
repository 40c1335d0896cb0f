/**
 * From trajectories to the arrays of one `trainStep`: token ids, loss masks, the rollout
 * log-probs (the "old" policy, never recomputed), per-token advantages and, when the loss
 * has a KL term, the frozen reference policy's log-probs.
 */
import type { Trajectory } from '../core/episode.js';
import type { ComputeBackend } from '../backends/compute-backend.js';
import type { TrainBatch } from '../model/train.js';

export function policyBatch(trajectories: Trajectory[], advantages: Float32Array[], refLogprobs?: Float32Array[]): TrainBatch {
  return {
    sequences: trajectories.map((t) => t.tokens),
    masks: trajectories.map((t) => t.mask),
    oldLogprobs: trajectories.map((t) => t.logprobs),
    advantages,
    ...(refLogprobs ? { refLogprobs } : {}),
  };
}

/**
 * The reference model's log-prob of every token, aligned with the sequence (index t =
 * token t; 0 at token 0 and where the mask is 0), scored at the rollout temperature.
 */
export async function referenceLogprobs(reference: Pick<ComputeBackend, 'score'>, sequences: Int32Array[], masks: Uint8Array[], temperature: number): Promise<Float32Array[]> {
  const scored = await reference.score(sequences, { start: 1, temperature: temperature > 0 ? temperature : 1 });
  return scored.map(({ logprobs }, i) => {
    const aligned = new Float32Array(sequences[i].length);
    for (let t = 1; t < aligned.length; t++) if (masks[i][t]) aligned[t] = logprobs[t - 1];
    return aligned;
  });
}

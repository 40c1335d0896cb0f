/**
 * How a training step's loss reaches a Tinker server, exactly.
 *
 * Servers differ in how they reduce the per-token losses of a forward_backward: the Tinker
 * documentation sums them ('sum'); SkyRL 0.4's JAX engine divides each datum's sum by the
 * sum of its weights and averages over the datums since the last optim_step
 * ('datum-mean'). Weights are then a mask, not a scale, so the client sends weight 1 on
 * every target position and puts all of its scaling into the advantages, multiplied by
 * the server's own denominator (positions x datums): the server's gradient is then the
 * gradient of the project's loss, on either kind of server.
 *
 * Two recipes, both through the server's importance-weighted losses:
 *   built-in: the configured loss IS one of the server's (without KL: token_clip without
 *             dual clip = 'ppo', cispo = 'cispo', with the same clip range): one
 *             forward_backward, the advantages carrying the aggregation's per-token weight
 *             (at ratio 1 nothing is clipped, so dLoss/dlogp is exactly that weight x A).
 *   custom:   any other loss: forward for log-probs -> computePolicyLoss -> dLoss/dlogp ->
 *             'importance_sampling' with old log-probs = the current ones (ratio 1), so
 *             the gradient is sum_t advantage_t * dlogp_t with advantage_t = -dLoss/dlogp_t.
 */
import type { ResolvedLossConfig } from '../../algorithms/loss-options.js';

export type ServerReduction = 'datum-mean' | 'sum';

export interface ServerLoss {
  lossFn: 'ppo' | 'cispo';
  config: Record<string, number>;
}

/** The server's own loss when it computes exactly `loss`; undefined otherwise. */
export function builtinLoss(loss: ResolvedLossConfig): ServerLoss | undefined {
  if (loss.beta !== 0) return undefined;
  // Tinker's thresholds bound the ratio itself; the project's eps bound its distance from 1.
  const config = { clip_low_threshold: Math.max(0, 1 - loss.epsLow), clip_high_threshold: 1 + loss.epsHigh };
  if (loss.loss === 'token_clip' && loss.dualClip === undefined) return { lossFn: 'ppo', config };
  if (loss.loss === 'cispo') return { lossFn: 'cispo', config };
  return undefined;
}

/** What one datum's losses are divided by on the server (`positions`: its target positions). */
export function serverDenominator(reduction: ServerReduction, positions: number, datums: number): number {
  return reduction === 'datum-mean' ? positions * datums : 1;
}

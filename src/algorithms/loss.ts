/**
 * Policy losses, computed by the native core: the same Rust code the trainer runs on the
 * model's log-probs, so what tests and users see here is exactly what training optimizes.
 */
import { callNative, native } from '../native.js';
import { policyLossArgs, type PolicyLossOptions, type PolicyLossResult } from './loss-options.js';

/**
 * The loss of a batch of sequences (ALGORITHMS.md section 3): clipped token surrogate,
 * GSPO, GSPO-token, CISPO or SFT, plus beta * KL to a reference, aggregated in one of four modes.
 * A fully masked sequence contributes nothing; a batch without loss tokens gives loss 0.
 */
export function computePolicyLoss(options: PolicyLossOptions): PolicyLossResult {
  const a = policyLossArgs(options);
  return callNative(() =>
    native.computePolicyLoss(a.logprobs, a.oldLogprobs, a.refLogprobs, a.advantages, a.mask, a.offsets, a.config, a.normalizer, a.returnGrad),
  );
}

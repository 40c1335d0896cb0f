// ALGORITHMS.md section 7 (GSPO, KL, aggregation, dual-clip) and the README's CISPO vector
// through computePolicyLoss,
// native and reference.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computePolicyLoss, reference, type LossAggregation } from '../src/index.js';
import { assertClose } from './helpers/random.js';

const implementations = { native: computePolicyLoss, reference: reference.computePolicyLoss } as const;

for (const [name, loss] of Object.entries(implementations)) {
  test(`${name}: GSPO sequence ratio, clipped for A = +1 and unclipped for A = -1`, () => {
    const common = { logprobs: [-0.9, -1.2, -0.6], oldLogprobs: [-1, -1, -1], mask: [1, 1, 1] };
    const up = loss({ ...common, advantages: [1], config: { loss: 'gspo', returnGrad: true } });
    assertClose([up.loss, up.metrics.ratio_mean, up.metrics.clip_frac_high], [-1.0004, 1.105171, 1]);
    assert.deepEqual(Array.from(up.grad!), [0, 0, 0]);
    const down = loss({ ...common, advantages: [-1], config: { loss: 'gspo', returnGrad: true } });
    assertClose([down.loss, down.metrics.clip_frac], [1.105171, 0]);
    // d/dlogp_t of s * 1 = s / |o|.
    assertClose(down.grad!, [1.105171 / 3, 1.105171 / 3, 1.105171 / 3]);
  });

  test(`${name}: KL estimators k1, k2, k3 at logp = -1, logp_ref = -1.5`, () => {
    const expected = { k1: 0.5, k2: 0.125, k3: 0.106531 } as const;
    for (const [klEstimator, kl] of Object.entries(expected)) {
      const out = loss({
        logprobs: [-1], oldLogprobs: [-1], refLogprobs: [-1.5], advantages: [0], mask: [1],
        config: { beta: 0.5, klEstimator: klEstimator as 'k1' | 'k2' | 'k3' },
      });
      assertClose([out.metrics.kl, out.loss, out.metrics.policy_loss], [kl, 0.5 * kl, 0], 1e-5, klEstimator);
    }
  });

  test(`${name}: the four aggregation modes on per-token losses [1, 1] and [2, 2, 2, 2]`, () => {
    // SFT's per-token loss is -logp.
    const expected: Record<LossAggregation, number> = {
      'token-mean': 1.666667,
      'seq-mean-token-mean': 1.5,
      'seq-mean-token-sum': 5.0,
      'seq-mean-token-sum-norm': 1.25,
    };
    for (const [aggregation, value] of Object.entries(expected)) {
      const out = loss({
        logprobs: [-1, -1, -2, -2, -2, -2], mask: [1, 1, 1, 1, 1, 1], offsets: [0, 2, 6],
        config: { loss: 'sft', aggregation: aggregation as LossAggregation },
      });
      assertClose([out.loss], [value], 1e-5, aggregation);
    }
    const explicitLength = loss({
      logprobs: [-1, -1, -2, -2, -2, -2], mask: [1, 1, 1, 1, 1, 1], offsets: [0, 2, 6],
      config: { loss: 'sft', aggregation: 'seq-mean-token-sum-norm', maxCompletionLength: 8 },
    });
    assertClose([explicitLength.loss], [0.625]);
  });

  test(`${name}: dual-clip with A = -1, r = 5, c = 3 gives loss 3 and no gradient`, () => {
    const out = loss({ logprobs: [Math.log(5) - 1], oldLogprobs: [-1], advantages: [-1], mask: [1], config: { dualClip: 3, returnGrad: true } });
    assertClose([out.loss, out.metrics.dual_clip_frac, out.metrics.ratio_max], [3, 1, 5]);
    assert.deepEqual(Array.from(out.grad!), [0]);
    const withoutDual = loss({ logprobs: [Math.log(5) - 1], oldLogprobs: [-1], advantages: [-1], mask: [1] });
    assertClose([withoutDual.loss], [5]);
  });

  test(`${name}: CISPO weights A * logp by the clipped ratio held constant (README vector)`, () => {
    // r = e^[0.5, -0.2, -1.5, 1.8] = [1.648721, 0.818731, 0.223130, 6.049647].
    const common = { logprobs: [-0.5, -1.2, -2.5, -0.2], oldLogprobs: [-1, -1, -1, -2], advantages: [1, -1, 2, 0.5], mask: [1, 1, 1, 1] };
    // Defaults: no lower bound, weight capped at 4: w = [1.648721, 0.818731, 0.223130, 4].
    const out = loss({ ...common, config: { loss: 'cispo', returnGrad: true } });
    assertClose([out.loss, out.metrics.clip_frac_high, out.metrics.clip_frac_low, out.metrics.ratio_max], [0.339384, 0.25, 0, 6.049647]);
    assertClose(out.grad!, [-0.41218, 0.204683, -0.111565, -0.5]);
    // Two-sided at 0.2 / 0.2: w = [1.2, 0.818731, 0.8, 1.2]; clipped tokens keep their gradient.
    const both = loss({ ...common, config: { loss: 'cispo', epsLow: 0.2, epsHigh: 0.2, returnGrad: true } });
    assertClose([both.loss, both.metrics.clip_frac_high, both.metrics.clip_frac_low], [0.934381, 0.5, 0.25]);
    assertClose(both.grad!, [-0.3, 0.204683, -0.4, -0.15]);
    // Every aggregation: token-mean of one sequence equals seq-mean-token-mean; token-sum is 4x.
    const sum = loss({ ...common, config: { loss: 'cispo', aggregation: 'seq-mean-token-sum' } });
    assertClose([sum.loss], [4 * 0.339384]);
  });

  test(`${name}: an all-zero mask gives loss 0 and tokens 0, not NaN`, () => {
    for (const config of [{}, { loss: 'gspo' }, { loss: 'sft', aggregation: 'seq-mean-token-sum-norm' }] as const) {
      const out = loss({ logprobs: [-1, -2], oldLogprobs: [-1, -1], advantages: [1, 1], mask: [0, 0], offsets: [0, 1, 2], config: { ...config, returnGrad: true } });
      assert.equal(out.loss, 0);
      assert.equal(out.metrics.tokens, 0);
      assert.equal(out.metrics.ratio_mean, 1);
      assert.deepEqual(Array.from(out.grad!), [0, 0]);
    }
  });

  test(`${name}: a fully masked sequence contributes nothing`, () => {
    const withEmpty = loss({
      logprobs: [-1, -2, -3, -0.5], oldLogprobs: [-1.1, -2, -3, -0.4], advantages: [1, 5, -1], mask: [1, 0, 1, 1], offsets: [0, 1, 2, 4],
      config: { aggregation: 'seq-mean-token-mean' },
    });
    const without = loss({
      logprobs: [-1, -3, -0.5], oldLogprobs: [-1.1, -3, -0.4], advantages: [1, -1], mask: [1, 1, 1], offsets: [0, 1, 3],
      config: { aggregation: 'seq-mean-token-mean' },
    });
    assertClose([withEmpty.loss], [without.loss]);
  });

  test(`${name}: grad is returned only when asked for`, () => {
    const out = loss({ logprobs: [-1], oldLogprobs: [-1], advantages: [1], mask: [1] });
    assert.equal('grad' in out, false);
  });
}

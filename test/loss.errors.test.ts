// Bad loss input gives a StatesetError with a stable code, from native and reference alike.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { throwsCode } from './helpers/errors.js';
import { computePolicyLoss, reference, type PolicyLossOptions } from '../src/index.js';

const implementations = { native: computePolicyLoss, reference: reference.computePolicyLoss } as const;
const base: PolicyLossOptions = { logprobs: [-1, -2, -3], oldLogprobs: [-1, -2, -3], advantages: [1, 1, -1], mask: [1, 1, 1], offsets: [0, 2, 3] };


for (const [name, loss] of Object.entries(implementations)) {
  test(`${name}: mismatched lengths and offsets`, () => {
    throwsCode(() => loss({ ...base, oldLogprobs: [-1, -2] }), 'ERR_LENGTH_MISMATCH', /oldLogprobs has length 2/);
    throwsCode(() => loss({ ...base, mask: [1, 1] }), 'ERR_LENGTH_MISMATCH', /mask has length 2/);
    throwsCode(() => loss({ ...base, refLogprobs: [-1] }), 'ERR_LENGTH_MISMATCH', /refLogprobs/);
    throwsCode(() => loss({ ...base, advantages: [1, 2, 3, 4] }), 'ERR_LENGTH_MISMATCH', /one advantage per token or one per sequence/);
    throwsCode(() => loss({ ...base, offsets: [0, 4] }), 'ERR_INVALID_OFFSETS', /instead of 3/);
  });

  test(`${name}: NaN advantages and non-finite log-probs at loss tokens are named`, () => {
    throwsCode(() => loss({ ...base, advantages: [1, NaN, 1] }), 'ERR_NON_FINITE', /advantages\[1\] is NaN at a loss token/);
    throwsCode(() => loss({ ...base, advantages: [NaN, 1] }), 'ERR_NON_FINITE', /advantages\[0\] is NaN of a sequence/);
    throwsCode(() => loss({ ...base, logprobs: [-1, -Infinity, -3] }), 'ERR_NON_FINITE', /logprobs\[1\]/);
    // Off the mask nothing is read, so nothing needs to be finite.
    const out = loss({ ...base, advantages: [1, NaN, 1], logprobs: [-1, NaN, -3], mask: [1, 0, 1] });
    assert.ok(Number.isFinite(out.loss));
  });

  test(`${name}: missing inputs and bad configs`, () => {
    throwsCode(() => loss({ ...base, oldLogprobs: undefined }), 'ERR_INVALID_ARGUMENT', /oldLogprobs is required by loss 'token_clip'/);
    throwsCode(() => loss({ ...base, advantages: undefined, config: { loss: 'gspo' } }), 'ERR_INVALID_ARGUMENT', /advantages is required/);
    throwsCode(() => loss({ ...base, config: { beta: 0.1 } }), 'ERR_INVALID_ARGUMENT', /refLogprobs is required by beta/);
    throwsCode(() => loss({ ...base, config: { loss: 'ppo' as never } }), 'ERR_INVALID_ARGUMENT', /unknown loss 'ppo'/);
    throwsCode(() => loss({ ...base, config: { aggregation: 'mean' as never } }), 'ERR_INVALID_ARGUMENT', /unknown aggregation/);
    throwsCode(() => loss({ ...base, config: { klEstimator: 'k4' as never } }), 'ERR_INVALID_ARGUMENT', /unknown klEstimator/);
    throwsCode(() => loss({ ...base, config: { epsLow: -0.1 } }), 'ERR_INVALID_PARAMETER', /epsLow/);
    throwsCode(() => loss({ ...base, config: { epsHigh: NaN } }), 'ERR_INVALID_PARAMETER', /epsHigh/);
    throwsCode(() => loss({ ...base, config: { dualClip: 1 } }), 'ERR_INVALID_PARAMETER', /dualClip must be a finite number greater than 1/);
    throwsCode(() => loss({ ...base, config: { loss: 'gspo', dualClip: 3 } }), 'ERR_INVALID_PARAMETER', /token_clip' only/);
    throwsCode(() => loss({ ...base, config: { loss: 'gspo', aggregation: 'token-mean' } }), 'ERR_INVALID_PARAMETER', /gspo_token/);
    throwsCode(() => loss({ ...base, config: { beta: -1 } }), 'ERR_INVALID_PARAMETER', /beta/);
    throwsCode(() => loss({ ...base, config: { maxCompletionLength: 0 } }), 'ERR_INVALID_PARAMETER', /maxCompletionLength/);
    throwsCode(() => loss({ ...base, config: { maxCompletionLength: 2.5 } }), 'ERR_INVALID_PARAMETER', /maxCompletionLength/);
    throwsCode(() => loss({ ...base, normalizer: { tokens: 1, sequences: 1, maxLength: 1 } }), 'ERR_INVALID_PARAMETER', /whole optimizer batch/);
    throwsCode(() => loss({ ...base, mask: [1, 2, 1] }), 'ERR_INVALID_ARGUMENT', /only 0 and 1/);
  });

  test(`${name}: SFT needs neither old log-probs nor advantages`, () => {
    const out = loss({ logprobs: [-1, -3], mask: [1, 1], config: { loss: 'sft' } });
    assert.equal(out.loss, 2);
  });
}

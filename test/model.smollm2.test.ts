// A real instruct model, when it has been fetched (`npm run fetch:smollm2`; not in CI):
// SmolLM2-135M-Instruct (GGUF, Q4_1) answers a factual question, and its sampled
// log-probs equal the scored ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModel } from '../src/index.js';
import { assertClose } from './helpers/random.js';
import { smollm2Gguf } from './helpers/smollm2.js';

const gguf = smollm2Gguf();

test('SmolLM2-135M-Instruct answers greedily and its log-probs match scoring', { skip: gguf ? false : 'run `npm run fetch:smollm2` first' }, async () => {
  const model = await loadModel(gguf!);
  assert.equal(model.config.eosToken, '<|im_end|>');
  const prompt = model.tokenize('<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n');
  const [greedy] = await model.generate([prompt], { maxNewTokens: 24, temperature: 0 });
  assert.equal(greedy.finishReason, 'stop');
  assert.match(model.detokenize(greedy.tokens), /Paris/);
  const [sampled] = await model.generate([prompt], { maxNewTokens: 24, temperature: 0.7, topP: 0.9, seed: 3 });
  const [scored] = await model.score([Int32Array.from([...prompt, ...sampled.tokens])], { start: prompt.length, temperature: 0.7 });
  assertClose(sampled.logprobs, scored.logprobs, 1e-4);
});

// The Model API on real tiny models: config, tokenizer, generation, scoring, saving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModel } from '../src/index.js';
import { assertClose } from './helpers/random.js';
import { tempDir, tinyModel } from './helpers/tiny-model.js';

const CHAT = '<|im_start|>user\nWhere is my order?<|im_end|>\n<|im_start|>assistant\n';

for (const arch of ['gpt2', 'llama'] as const) {
  test(`${arch}: config, chat template and tokenizer round trip`, async () => {
    const { model } = await tinyModel(arch);
    assert.equal(model.config.architecture, arch);
    assert.match(model.config.chatTemplate ?? '', /<\|im_start\|>/);
    assert.equal(model.config.eosToken, '<|im_end|>');
    const ids = model.tokenize(CHAT);
    assert.ok(ids instanceof Int32Array);
    assert.ok(model.config.eosTokenIds.every((id) => ids.includes(id)), 'the end-of-turn token is one id in the text');
    assert.equal(model.detokenize(ids), CHAT);
  });

  test(`${arch}: generated log-probs are the scored log-probs of the same tokens`, async () => {
    const { model } = await tinyModel(arch);
    const prompts = [model.tokenize(CHAT), model.tokenize('Hi'), model.tokenize('Thank you for waiting, your refund')];
    const options = { maxNewTokens: 12, temperature: 0.9, topP: 0.95, topK: 50, minP: 0.01, repetitionPenalty: 1.1, seed: 5 };
    const out = await model.generate(prompts, options);
    assert.equal(out.length, 3);
    for (const [i, c] of out.entries()) {
      assert.ok(c.tokens.length >= 1 && c.tokens.length <= 12);
      assert.equal(c.logprobs.length, c.tokens.length);
      assert.equal(c.finishReason === 'stop', model.config.eosTokenIds.includes(c.tokens.at(-1)!));
      const sequence = Int32Array.from([...prompts[i], ...c.tokens]);
      const [scored] = await model.score([sequence], { start: prompts[i].length, temperature: 0.9 });
      assertClose(c.logprobs, scored.logprobs, 1e-4, `row ${i} log-probs`);
    }
    assert.deepEqual(await model.generate(prompts, options), out, 'the same seed gives the same completions');
    const other = await model.generate(prompts, { ...options, seed: 6 });
    assert.notDeepEqual(other.map((c) => c.tokens), out.map((c) => c.tokens));
  });
}

test('greedy decoding reports temperature-1 log-probs and stops on a stop token, keeping it', async () => {
  const { model } = await tinyModel('llama');
  const prompt = model.tokenize('Hello');
  const [free] = await model.generate([prompt], { maxNewTokens: 6, temperature: 0, stopTokenIds: [] });
  assert.equal(free.finishReason, 'length');
  const [scored] = await model.score([Int32Array.from([...prompt, ...free.tokens])], { start: prompt.length });
  assertClose(free.logprobs, scored.logprobs, 1e-4);
  const stop = free.tokens[2];
  const [stopped] = await model.generate([prompt], { maxNewTokens: 6, temperature: 0, stopTokenIds: [stop] });
  assert.equal(stopped.finishReason, 'stop');
  assert.equal(stopped.tokens.at(-1), stop);
  assert.deepEqual(stopped.tokens, free.tokens.slice(0, stopped.tokens.length));
});

test('scoring returns entropies on request, and concurrent calls agree with sequential ones', async () => {
  const { model } = await tinyModel('gpt2');
  const seqs = [model.tokenize(CHAT), model.tokenize('Your order ships tomorrow.')];
  const [a, b] = await Promise.all([model.score(seqs, { entropy: true }), model.score(seqs, { entropy: true })]);
  assert.deepEqual(a, b);
  for (const [i, s] of a.entries()) {
    assert.equal(s.logprobs.length, seqs[i].length - 1);
    assert.equal(s.entropy?.length, s.logprobs.length);
    const uniform = Math.log(model.config.vocabSize);
    assert.ok(s.entropy!.every((h) => h > 0 && h <= uniform + 1e-4), 'entropies lie in (0, log V]');
  }
  assert.equal((await model.score(seqs))[0].entropy, undefined);
});

test('a saved model loads back and scores identically', async () => {
  const { model } = await tinyModel('llama', 3);
  const dir = tempDir();
  await model.save(dir);
  const again = await loadModel(dir, { threads: 1 });
  assert.deepEqual(again.config, model.config);
  const seq = [model.tokenize(CHAT)];
  assertClose((await again.score(seq))[0].logprobs, (await model.score(seq))[0].logprobs, 1e-6);
});

test('generation runs off the event loop: other callbacks run before it resolves', async () => {
  const { model } = await tinyModel('gpt2');
  let ticked = false;
  setImmediate(() => {
    ticked = true;
  });
  await model.generate([model.tokenize('Hello')], { maxNewTokens: 4, seed: 1 });
  assert.ok(ticked, 'a callback queued before generate ran while it computed');
});

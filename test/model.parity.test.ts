// Through the whole stack (files -> native decoder -> JS): scored log-probs equal those
// implied by the logits PyTorch transformers recorded (tools/make_parity_fixtures.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../src/index.js';

interface Sequence {
  ids: number[];
  positions: number[];
  logits: number[][];
  logsumexp: number[];
}

const FIXTURES = join(import.meta.dirname, 'fixtures', 'parity');

for (const [model, record] of [
  ['gpt2', 'gpt2/logits.json'],
  ['llama', 'llama/logits.json'],
  ['llama-gguf/model-q8_0.gguf', 'llama-gguf/logits-q8_0.json'],
]) {
  test(`${model}: scored log-probs match transformers to 1e-4`, async () => {
    const m = await loadModel(join(FIXTURES, model));
    const { sequences } = JSON.parse(readFileSync(join(FIXTURES, record), 'utf8')) as { sequences: Sequence[] };
    const scored = await m.score(sequences.map((s) => Int32Array.from(s.ids)));
    let compared = 0;
    for (const [i, s] of sequences.entries()) {
      assert.deepEqual(Array.from(m.tokenize(m.detokenize(Int32Array.from(s.ids)))), s.ids);
      s.positions.forEach((p, j) => {
        if (p + 1 >= s.ids.length) return;
        const expected = s.logits[j][s.ids[p + 1]] - s.logsumexp[p];
        assert.ok(Math.abs(scored[i].logprobs[p] - expected) <= 1e-4, `sequence ${i}, token ${p + 1}: ${scored[i].logprobs[p]} vs ${expected}`);
        compared++;
      });
    }
    assert.ok(compared >= 8, `compared ${compared} tokens`);
  });
}

// PromptDataset from arrays and JSONL files, run as single-turn scenarios.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PromptDataset, singleTurnEnvironment, StatesetError } from '../src/index.js';
import { tempDir } from './helpers/tiny-model.js';

const dir = tempDir();

test('items become single-turn scenarios; extra fields go to metadata', async () => {
  const data = PromptDataset.fromArray([{ prompt: 'What is 2+2?', answer: '4' }, { id: 'q2', prompt: 'Name a color.', system: 'Answer in one word.' }]);
  assert.equal(data.size, 2);
  assert.deepEqual(data.scenarios(), [
    { id: '0', userTurns: ['What is 2+2?'], metadata: { answer: '4' } },
    { id: 'q2', userTurns: ['Name a color.'], systemPrompt: 'Answer in one word.', metadata: {} },
  ]);
  const env = singleTurnEnvironment({ systemPrompt: 'Be brief.' });
  const start = await env.reset(data.scenarios()[1]);
  assert.deepEqual(start.messages.map((m) => m.content), ['Answer in one word.', 'Name a color.']);
  const step = await env.step(start.state, { role: 'assistant', content: 'Blue' });
  assert.deepEqual([step.done, step.doneReason], [true, 'max_turns']);
});

test('JSONL files load line by line, skipping blank lines', async () => {
  const path = join(dir, 'prompts.jsonl');
  writeFileSync(path, '{"prompt": "a"}\n\n{"prompt": "b", "label": 1}\n');
  const data = await PromptDataset.fromJsonl(path);
  assert.deepEqual(data.items, [{ prompt: 'a' }, { prompt: 'b', label: 1 }]);
});

test('bad datasets name the file, line and field', async () => {
  const isDatasetError = (message: RegExp) => (e: unknown) => e instanceof StatesetError && e.code === 'ERR_INVALID_DATASET' && message.test(e.message);
  const broken = join(dir, 'broken.jsonl');
  writeFileSync(broken, '{"prompt": "a"}\n{"prompt": \n');
  await assert.rejects(PromptDataset.fromJsonl(broken), isDatasetError(/broken\.jsonl line 2 is not valid JSON/));
  const missing = join(dir, 'missing.jsonl');
  writeFileSync(missing, '{"question": "a"}\n');
  await assert.rejects(PromptDataset.fromJsonl(missing), isDatasetError(/missing\.jsonl line 1\.prompt/));
  await assert.rejects(PromptDataset.fromJsonl(join(dir, 'nope.jsonl')), isDatasetError(/cannot read the dataset/));
  writeFileSync(join(dir, 'empty.jsonl'), '\n');
  await assert.rejects(PromptDataset.fromJsonl(join(dir, 'empty.jsonl')), isDatasetError(/has no items/));
  assert.throws(() => PromptDataset.fromArray([{ prompt: '' }]), isDatasetError(/item\[0\]\.prompt/));
});

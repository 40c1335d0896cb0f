// Atomic checkpoint folders: commit by rename, keep-last pruning, and a writer killed
// mid-save (a real child process, SIGKILLed) leaving the previous checkpoint the one found.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CheckpointStore, StatesetError } from '../src/index.js';
import { throwsCode } from './helpers/errors.js';

const runDir = () => mkdtempSync(join(tmpdir(), 'ss-ckpt-'));
const writeWeights = (content: string) => (dir: string) => {
  mkdirSync(join(dir, 'optimizer'));
  writeFileSync(join(dir, 'weights.bin'), content);
  writeFileSync(join(dir, 'optimizer', 'state.json'), JSON.stringify({ content }));
};

test('save commits step-N with its files and a COMPLETE marker; latest is the newest', async () => {
  const store = new CheckpointStore(runDir());
  assert.equal(store.latest(), undefined);
  const first = await store.save(10, writeWeights('ten'));
  await store.save(2, writeWeights('two'));
  assert.equal(first.dir, join(store.root, 'step-10'));
  assert.equal(readFileSync(join(first.dir, 'weights.bin'), 'utf8'), 'ten');
  assert.equal(JSON.parse(readFileSync(join(first.dir, 'COMPLETE'), 'utf8')).step, 10);
  assert.deepEqual(store.list().map((c) => c.step), [2, 10], 'sorted by step, not by name');
  assert.equal(store.latest()?.step, 10);
  assert.deepEqual(readdirSync(store.root).sort(), ['step-10', 'step-2'], 'no temp folders left');
});

test('saving an existing step replaces it; keepLast prunes the oldest', async () => {
  const store = new CheckpointStore(runDir(), { keepLast: 2 });
  for (const step of [1, 2, 3]) await store.save(step, writeWeights(`w${step}`));
  assert.deepEqual(store.list().map((c) => c.step), [2, 3]);
  await store.save(3, writeWeights('w3-again'));
  assert.equal(readFileSync(join(store.latest()!.dir, 'weights.bin'), 'utf8'), 'w3-again');
  assert.deepEqual(readdirSync(store.root).sort(), ['step-2', 'step-3']);
});

test('folders without the marker, temp folders and stray files are never chosen', async () => {
  const dir = runDir();
  const store = new CheckpointStore(dir);
  await store.save(5, writeWeights('five'));
  mkdirSync(join(store.root, 'step-9'));
  writeFileSync(join(store.root, 'step-9', 'weights.bin'), 'half');
  mkdirSync(join(store.root, '.tmp-step-12-1'));
  writeFileSync(join(store.root, '.tmp-step-12-1', 'COMPLETE'), '{}');
  writeFileSync(join(store.root, 'step-11'), 'a file, not a folder');
  assert.equal(store.latest()?.step, 5);
});

test('a failing writer leaves no trace and raises its own error', async () => {
  const store = new CheckpointStore(runDir());
  await store.save(1, writeWeights('one'));
  const boom = new StatesetError('ERR_INVALID_MODEL', 'weights could not be serialized');
  await assert.rejects(store.save(2, () => Promise.reject(boom)), (e) => e === boom);
  await assert.rejects(store.save(3, () => { throw new Error('EIO'); }), (e) => e instanceof StatesetError && e.code === 'ERR_CHECKPOINT_WRITE' && /step 3.*EIO/.test(e.message));
  assert.deepEqual(readdirSync(store.root), ['step-1']);
});

test('bad arguments are StatesetErrors', async () => {
  throwsCode(() => new CheckpointStore(runDir(), { keepLast: 0 }), 'ERR_INVALID_ARGUMENT', /keepLast must be a positive integer/);
  await assert.rejects(new CheckpointStore(runDir()).save(1.5, () => {}), (e) => e instanceof StatesetError && e.code === 'ERR_INVALID_ARGUMENT' && /non-negative integer/.test(e.message));
});

test('a writer SIGKILLed mid-save leaves the previous checkpoint intact and found', async () => {
  const dir = runDir();
  const store = new CheckpointStore(dir);
  await store.save(1, writeWeights('good weights'));

  // The child starts checkpoint 2, writes half of it, says so, and then hangs mid-write.
  const storeModule = fileURLToPath(new URL('../src/train/checkpoint-store.ts', import.meta.url));
  const script = `
    import { writeFileSync } from 'node:fs';
    import { join } from 'node:path';
    import { CheckpointStore } from ${JSON.stringify(storeModule)};
    await new CheckpointStore(${JSON.stringify(dir)}).save(2, async (dir) => {
      writeFileSync(join(dir, 'weights.bin'), 'partial');
      process.stdout.write('writing\\n');
      await new Promise(() => setInterval(() => {}, 1000));
    });`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('writing') && resolve());
    child.on('exit', (code) => reject(new Error(`child exited early with ${code}`)));
  });
  const killed = new Promise((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  child.kill('SIGKILL');
  assert.equal(await killed, 'SIGKILL');

  const abandoned = join(store.root, `.tmp-step-2-${child.pid}`);
  assert.ok(existsSync(join(abandoned, 'weights.bin')), 'the killed save stopped inside its temp folder');
  assert.equal(store.latest()?.step, 1);
  assert.equal(readFileSync(join(store.latest()!.dir, 'weights.bin'), 'utf8'), 'good weights');

  // The next save clears the dead writer's temp folder.
  await store.save(2, writeWeights('retry'));
  assert.equal(existsSync(abandoned), false);
  assert.deepEqual(store.list().map((c) => c.step), [1, 2]);
});

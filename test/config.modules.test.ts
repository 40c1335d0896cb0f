// `{ module: ./rewards.ts }` in any folder: one without package.json and one whose
// package.json says CommonJS (Node treats .ts there as CommonJS), named and default exports,
// in this process (tsx preloaded, as in tests) and in one with only tsx's ES-module loader
// (as the built `stateset-agents` command had).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { importModuleReference, parseRunConfig } from '../src/index.js';
import { createRewards } from '../src/train/run-config.js';
import { tempDir } from './helpers/tiny-model.js';

const REWARDS = `import { helper } from './helper.ts';
export const named = { name: 'named', scope: 'episode' as const, score: (): number => helper() };
export default { name: 'fallback', scope: 'episode' as const, score: (): number => 0.25 };
`;

/** A folder with rewards.ts (importing helper.ts) and, when given, a package.json. */
function rewardsFolder(packageJson?: Record<string, unknown>): string {
  const dir = join(tempDir(), 'rewards');
  mkdirSync(dir);
  writeFileSync(join(dir, 'rewards.ts'), REWARDS);
  writeFileSync(join(dir, 'helper.ts'), 'export const helper = (): number => 0.75;\n');
  if (packageJson) writeFileSync(join(dir, 'package.json'), JSON.stringify(packageJson));
  return dir;
}

const FOLDERS = [
  ['a plain folder without package.json', undefined],
  ['a CommonJS package', { name: 'my-rewards', type: 'commonjs' }],
  ['an ES-module package', { name: 'my-rewards', type: 'module' }],
] as const;

describe('TypeScript modules named in a config', () => {
  for (const [what, packageJson] of FOLDERS) {
    it(`load from ${what}, named and default exports alike`, async () => {
      const dir = rewardsFolder(packageJson);
      const named = (await importModuleReference({ module: './rewards.ts', export: 'named' }, dir)) as { name: string; score: () => number };
      assert.equal(named.name, 'named');
      assert.equal(named.score(), 0.75);
      const fallback = (await importModuleReference({ module: './rewards.ts' }, dir)) as { name: string };
      assert.equal(fallback.name, 'fallback');

      const config = parseRunConfig({ model: 'tiny', rewards: [{ module: './rewards.ts', export: 'named' }, { module: './rewards.ts', weight: 2 }] }, join(dir, 'run.yaml'));
      const rewards = await createRewards(config, dir);
      assert.deepEqual(Object.keys(rewards!.stats()).sort(), ['fallback', 'named']);
    });
  }

  it('load in a process where only tsx\'s ES-module loader runs (the built command\'s situation)', () => {
    const dirs = FOLDERS.map(([, packageJson]) => rewardsFolder(packageJson));
    const work = tempDir();
    const esmOnly = join(work, 'esm-only.mjs');
    const tsxEsm = createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs');
    writeFileSync(esmOnly, `import { register } from ${JSON.stringify(pathToFileURL(tsxEsm).href)};\nregister();\n`);
    const script = join(work, 'load.mts');
    writeFileSync(
      script,
      `import { importModuleReference } from ${JSON.stringify(pathToFileURL(join(import.meta.dirname, '..', 'src', 'config', 'modules.ts')).href)};
const names = [];
for (const dir of ${JSON.stringify(dirs)}) {
  names.push((await importModuleReference({ module: './rewards.ts', export: 'named' }, dir)).name);
  names.push((await importModuleReference({ module: './rewards.ts' }, dir)).name);
}
console.log(JSON.stringify(names));
`,
    );
    const run = spawnSync(process.execPath, ['--import', pathToFileURL(esmOnly).href, script], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), ['named', 'fallback', 'named', 'fallback', 'named', 'fallback']);
  });
});

// Installing without Rust, as a user would from npm: the main package and this platform's
// prebuilt-addon package (npm/linux-x64-gnu, holding the addon built here) are packed as
// the release workflow publishes them, installed into a fresh folder with no cargo on PATH,
// and a tiny model generates and takes a training step from there. Slow-ish (npm pack and
// npm install); one test.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { it } from 'node:test';
import { platformArchABI, prebuiltPackageName, SOURCE_ADDON } from '../scripts/native-target.mjs';
import { tempDir } from './helpers/tiny-model.js';

const ABI = 'linux-x64-gnu';
const skip = platformArchABI() !== ABI ? `packs the ${ABI} package, and this machine is ${platformArchABI()}` : !existsSync(SOURCE_ADDON) ? `needs the addon built here (${SOURCE_ADDON}): npm run build` : false;

/** PATH without any folder that holds cargo (~/.cargo/bin and any other). */
function pathWithoutCargo(): string {
  const hasCargo = (dir: string) => {
    try {
      accessSync(join(dir, 'cargo'), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  return (process.env.PATH ?? '').split(delimiter).filter((dir) => dir && !hasCargo(dir)).join(delimiter);
}

/** The environment of a user's shell: no cargo, and none of the npm_* variables of a test run under npm. */
function userEnv(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_') && k !== 'STATESET_BUILD_FROM_SOURCE'));
  return { ...env, PATH: pathWithoutCargo(), RAYON_NUM_THREADS: '1' };
}

async function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<{ stdout: string; stderr: string; seconds: number }> {
  const started = Date.now();
  const child = spawn(command, args, { cwd, env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const [code] = await once(child, 'close');
  assert.equal(code, 0, `${command} ${args.join(' ')} failed in ${cwd}:\n${stdout}\n${stderr}`);
  return { stdout, stderr, seconds: (Date.now() - started) / 1000 };
}

/** `npm pack` of `dir` into `out`; the tarball's path. */
async function pack(dir: string, out: string, ignoreScripts: boolean): Promise<string> {
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', out, ...(ignoreScripts ? ['--ignore-scripts'] : [])], dir);
  return join(out, (JSON.parse(stdout) as { filename: string }[])[0].filename);
}

it('installs from the prebuilt platform package with no cargo on PATH, then generates and trains', { skip, timeout: 15 * 60_000 }, async (t) => {
  const work = tempDir();
  const tarballs = join(work, 'tarballs');
  mkdirSync(tarballs);

  // The main package as published: packed (prepare builds dist/), then its platform packages
  // declared as optionalDependencies, as the release workflow does before `npm publish`.
  const packed = await pack(resolve('.'), work, false);
  await run('tar', ['xzf', packed, '-C', work], work);
  const staged = join(work, 'package');
  assert.ok(!existsSync(join(staged, 'native')), 'the main package ships no addon');
  await run(process.execPath, [resolve('scripts/declare-platform-packages.mjs'), join(staged, 'package.json')], work);
  const main = await pack(staged, tarballs, true);

  // The platform package, holding the addon built here under napi-rs's platform name.
  const platform = join(work, ABI);
  mkdirSync(platform);
  copyFileSync(join('npm', ABI, 'package.json'), join(platform, 'package.json'));
  copyFileSync(SOURCE_ADDON, join(platform, `stateset.${ABI}.node`));
  const prebuilt = await pack(platform, tarballs, true);

  const app = join(work, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  const env = userEnv();
  assert.equal(spawnSync('cargo', ['--version'], { env }).error?.message.includes('ENOENT'), true, 'cargo is not on PATH');
  const install = await run('npm', ['install', main, prebuilt, '--prefer-offline', '--no-audit', '--no-fund', '--foreground-scripts'], app, env);
  t.diagnostic(`npm install with the prebuilt addon: ${install.seconds.toFixed(1)} s`);
  assert.match(install.stdout + install.stderr, new RegExp(`using the prebuilt native core \\(${prebuiltPackageName(ABI)}\\); no build needed`));
  const installed = join(app, 'node_modules', 'stateset-agents');
  assert.ok(!existsSync(join(installed, 'native')), 'no source build was made');
  assert.deepEqual(readdirSync(join(app, 'node_modules', prebuiltPackageName(ABI))).sort(), ['package.json', `stateset.${ABI}.node`]);

  writeFileSync(
    join(app, 'run.mjs'),
    `import { loadModel, makeTinyModel } from 'stateset-agents';
makeTinyModel({ arch: 'llama', outDir: 'tiny', seed: 3 });
const model = await loadModel('tiny');
const prompt = model.tokenize('<|im_start|>user\\nWhere is my order?<|im_end|>\\n<|im_start|>assistant\\n');
const [completion] = await model.generate([prompt], { maxNewTokens: 8, temperature: 1, seed: 1 });
const ids = Int32Array.from([...prompt, ...completion.tokens]);
const mask = new Uint8Array(ids.length).fill(1, prompt.length);
const metrics = await model.trainStep({ sequences: [ids], masks: [mask] }, { loss: 'sft', learningRate: 1e-2 });
console.log(JSON.stringify({ generated: completion.tokens.length, step: metrics.step, loss: metrics.loss, tokens: metrics.tokens }));
`,
  );
  const result = JSON.parse((await run(process.execPath, ['run.mjs'], app, env)).stdout.trim());
  assert.ok(result.generated >= 1 && result.generated <= 8, JSON.stringify(result));
  assert.equal(result.step, 1);
  assert.equal(result.tokens, result.generated);
  assert.ok(Number.isFinite(result.loss) && result.loss > 0, JSON.stringify(result));
  const version = await run(join(app, 'node_modules', '.bin', 'stateset-agents'), ['version'], app, env);
  assert.equal(version.stdout.trim(), JSON.parse(readFileSync('package.json', 'utf8')).version);
});

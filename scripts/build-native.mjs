// The native core on `npm install`: nothing to do when npm installed this platform's
// prebuilt addon (stateset-agents-linux-x64-gnu, ...: no Rust needed); else it is built from
// source as a Node addon (native/stateset.node, release mode), which needs Rust and cargo.
// Build from source anyway with STATESET_BUILD_FROM_SOURCE=1 (npm install / npm rebuild) or
// `--from-source` (what `npm run build` does after a change to crates/).
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { platformArchABI, prebuiltAddonPath, prebuiltPackageName } from './native-target.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const fromSource = process.argv.includes('--from-source') || process.env.STATESET_BUILD_FROM_SOURCE === '1';

if (!fromSource) {
  const prebuilt = prebuiltAddonPath();
  if (prebuilt) {
    console.log(`stateset-agents: using the prebuilt native core (${prebuiltPackageName()}); no build needed.`);
    process.exit(0);
  }
}

const cargo = spawnSync('cargo', ['--version'], { encoding: 'utf8' });
if (cargo.status !== 0) {
  const why = fromSource
    ? 'STATESET_BUILD_FROM_SOURCE=1 asks for a build from source'
    : `no prebuilt native core is installed for this platform (${platformArchABI()}: package ${prebuiltPackageName()})`;
  console.error(
    `stateset-agents: ${why}, which needs Rust and cargo, and they were not found.\n` +
      'Install them from https://rustup.rs, then run `npm install` again.',
  );
  process.exit(1);
}

// @napi-rs/cli is a dependency: beside this package when installed, in its own node_modules in a checkout.
const napiPackage = createRequire(join(root, 'package.json')).resolve('@napi-rs/cli/package.json');
const napi = join(dirname(napiPackage), 'dist', 'cli.js');
const args = [
  napi, 'build', '--release',
  '--manifest-path', 'crates/node/Cargo.toml',
  '--package-json-path', 'package.json',
  '--output-dir', 'native',
  '--dts', 'index.d.ts',
];
const build = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
if (build.status !== 0) {
  console.error('stateset-agents: the native core failed to build (see the cargo output above).');
  process.exit(build.status ?? 1);
}

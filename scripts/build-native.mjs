// Builds the Rust core as a Node addon (native/stateset.node), in release mode.
// Runs on `npm install`; needs a Rust toolchain (https://rustup.rs).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const cargo = spawnSync('cargo', ['--version'], { encoding: 'utf8' });
if (cargo.status !== 0) {
  console.error(
    'stateset-agents: building the native core needs Rust and cargo, which were not found.\n' +
      'Install them from https://rustup.rs, then run `npm install` again.',
  );
  process.exit(1);
}

const napi = join(root, 'node_modules', '@napi-rs', 'cli', 'dist', 'cli.js');
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

// Where the native core (the napi-rs addon) comes from, shared by the install script
// (scripts/build-native.mjs) and the loader (src/native.ts): a source build in native/, or
// the prebuilt addon of this platform, which napi-rs packages as its own npm package
// (stateset-agents-linux-x64-gnu, ...: npm/<platform>/), declared as an optional dependency
// so that npm installs only the one whose os, cpu and libc match.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

/** The source build: `npm run build`, or the install script when no prebuilt addon matched. */
export const SOURCE_ADDON = join(root, 'native', `${pkg.napi.binaryName}.node`);

function isMusl() {
  // glibc reports its version here; musl has none (the check napi-rs's loaders make).
  return !process.report?.getReport?.().header?.glibcVersionRuntime;
}

/** napi-rs's name for this platform (linux-x64-gnu, darwin-arm64, win32-x64-msvc, ...). */
export function platformArchABI(platform = process.platform, arch = process.arch) {
  if (platform === 'linux') return `linux-${arch}-${isMusl() ? 'musl' : 'gnu'}`;
  if (platform === 'win32') return `win32-${arch}-msvc`;
  return `${platform}-${arch}`;
}

/** The npm package holding this platform's prebuilt addon. */
export function prebuiltPackageName(abi = platformArchABI()) {
  return `${pkg.name}-${abi}`;
}

/** The prebuilt addon's path when its package is installed beside this one, else undefined. */
export function prebuiltAddonPath(abi = platformArchABI()) {
  let manifest;
  try {
    manifest = createRequire(join(root, 'package.json')).resolve(`${prebuiltPackageName(abi)}/package.json`);
  } catch {
    return undefined; // not installed: no prebuilt package matches this platform
  }
  const addon = join(dirname(manifest), `${pkg.napi.binaryName}.${abi}.node`);
  return existsSync(addon) ? addon : undefined;
}

/** The addon to load: a source build when one was made, else this platform's prebuilt one. */
export function addonPath() {
  return existsSync(SOURCE_ADDON) ? SOURCE_ADDON : prebuiltAddonPath();
}

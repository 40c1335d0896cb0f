// Declares the prebuilt-addon packages (npm/<platform>/, made by `napi create-npm-dirs` from
// package.json's napi.targets) as optionalDependencies of the package, at its version, and
// gives each platform package that version: the release workflow runs it right before
// `npm publish`, as napi-rs's pre-publish step does. They are not in the committed
// package.json because `npm ci` cannot lock packages that are not on the registry yet.
//
//   node scripts/declare-platform-packages.mjs [path/to/package.json]   (default: ./package.json)
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const npmDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'npm');
const target = resolve(process.argv[2] ?? 'package.json');
const readJson = (path) => JSON.parse(readFileSync(path, 'utf8'));
const writeJson = (path, value) => writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);

const pkg = readJson(target);
const optional = { ...pkg.optionalDependencies };
for (const platform of readdirSync(npmDir).sort()) {
  const manifest = join(npmDir, platform, 'package.json');
  const platformPkg = readJson(manifest);
  if (platformPkg.version !== pkg.version) writeJson(manifest, { ...platformPkg, version: pkg.version });
  optional[platformPkg.name] = pkg.version;
}
writeJson(target, { ...pkg, optionalDependencies: optional });
console.log(`${pkg.name}@${pkg.version}: optionalDependencies ${Object.keys(optional).join(', ')}`);

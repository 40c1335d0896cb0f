/**
 * User code named in a config file, e.g. a reward function:
 *
 *   rewards:
 *     - { module: ./rewards.ts, export: politeness, weight: 0.5 }
 *
 * Paths are relative to the config file's folder; the module is imported when the run
 * starts. A TypeScript module loads in any folder and any process: tsx's loaders are
 * registered on first use, for ES modules and for CommonJS, because Node treats a .ts file
 * outside a `"type": "module"` package as CommonJS.
 */
import { existsSync } from 'node:fs';
import { extname, isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { StatesetError } from '../core/errors.js';

/** `{ module, export? }`; extend it for extra fields: `ModuleReferenceSchema.extend({ weight: z.number() })`. */
export const ModuleReferenceSchema = z.strictObject({
  module: z.string().min(1),
  /** The named export to use; the default export when omitted. */
  export: z.string().min(1).optional(),
});

export type ModuleReference = z.infer<typeof ModuleReferenceSchema>;

const isPath = (specifier: string) => specifier.startsWith('.') || isAbsolute(specifier);

const TYPESCRIPT = new Set(['.ts', '.mts', '.cts', '.tsx']);
let typescriptLoaders: Promise<void> | undefined;

/** tsx's loaders for both module systems, registered once (again under `node --import tsx` does no harm). */
function registerTypeScript(): Promise<void> {
  typescriptLoaders ??= (async () => {
    const [cjs, esm] = await Promise.all([import('tsx/cjs/api'), import('tsx/esm/api')]);
    cjs.register();
    esm.register();
  })();
  return typescriptLoaders;
}

/**
 * The exports of an imported module. A TypeScript or ES module compiled to CommonJS (a .ts
 * file outside a `"type": "module"` package) arrives as { default: module.exports } marked
 * `__esModule`: its named exports and its default export are inside.
 */
function moduleExports(namespace: Record<string, unknown>): Record<string, unknown> {
  const inner = namespace.default as Record<string, unknown> | undefined;
  return typeof inner === 'object' && inner !== null && inner.__esModule === true ? inner : namespace;
}

/**
 * Imports `ref.module` (a path relative to `baseDir`, or a package name) and returns its
 * `ref.export`. `where` names the reference in errors, e.g. "rewards.0".
 */
export async function importModuleReference(ref: ModuleReference, baseDir: string, where = 'module'): Promise<unknown> {
  const exportName = ref.export ?? 'default';
  let specifier = ref.module;
  if (isPath(ref.module)) {
    const file = resolve(baseDir, ref.module);
    if (!existsSync(file)) {
      throw new StatesetError('ERR_MODULE_LOAD', `${where}: module ${ref.module} not found at ${file} (paths are relative to the config file's folder, ${baseDir})`);
    }
    specifier = pathToFileURL(file).href;
    if (TYPESCRIPT.has(extname(file).toLowerCase())) await registerTypeScript();
  }
  let namespace: Record<string, unknown>;
  try {
    namespace = moduleExports(await import(specifier));
  } catch (err) {
    throw new StatesetError('ERR_MODULE_LOAD', `${where}: could not import ${ref.module}: ${(err as Error).message}`, { cause: err });
  }
  if (!(exportName in namespace) || namespace[exportName] === undefined) {
    const available = Object.keys(namespace).filter((name) => namespace[name] !== undefined);
    throw new StatesetError(
      'ERR_MODULE_LOAD',
      `${where}: ${ref.module} has no export "${exportName}"; it exports ${available.length ? available.map((n) => `"${n}"`).join(', ') : 'nothing'}`,
    );
  }
  return namespace[exportName];
}

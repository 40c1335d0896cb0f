/**
 * User code named in a config file, e.g. a reward function:
 *
 *   rewards:
 *     - { module: ./rewards.ts, export: politeness, weight: 0.5 }
 *
 * Paths are relative to the config file's folder; the module is imported when the run
 * starts. TypeScript modules load because the CLI runs under tsx.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { StatesetError } from '../core/errors.js';

/** `{ module, export? }`; extend it for extra fields: `ModuleReferenceSchema.extend({ weight: z.number() })`. */
export const ModuleReferenceSchema = z.object({
  module: z.string().min(1),
  /** The named export to use; the default export when omitted. */
  export: z.string().min(1).optional(),
});

export type ModuleReference = z.infer<typeof ModuleReferenceSchema>;

const isPath = (specifier: string) => specifier.startsWith('.') || isAbsolute(specifier);

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
  }
  let namespace: Record<string, unknown>;
  try {
    namespace = await import(specifier);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const hint = e.code === 'ERR_UNKNOWN_FILE_EXTENSION' ? ' TypeScript modules need the process to run under tsx (the stateset-agents command does).' : '';
    throw new StatesetError('ERR_MODULE_LOAD', `${where}: could not import ${ref.module}: ${e.message}.${hint}`, { cause: err });
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

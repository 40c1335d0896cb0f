/**
 * Which compute backend an agent runs on: `native` (default, the in-process engine) or
 * `tinker` (a Tinker-compatible training service; see tinker/options.ts).
 */
import { z } from 'zod';
import { TinkerBackendSchema } from './tinker/options.js';

export const backendConfigSchema = z.discriminatedUnion('type', [z.strictObject({ type: z.literal('native') }), TinkerBackendSchema]);

export type BackendConfig = z.output<typeof backendConfigSchema>;

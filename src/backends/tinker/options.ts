/**
 * The tinker backend's settings, as code and config files give them:
 *   backend: { type: tinker, baseUrl, apiKey (or TINKER_API_KEY), baseModel, loraRank }
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { StatesetError } from '../../core/errors.js';
import { parseConfig } from '../../config/load.js';
import type { ServerReduction } from './server-loss.js';

export const TinkerBackendSchema = z
  .object({
    type: z.literal('tinker'),
    /** The service, e.g. http://127.0.0.1:8000 for a SkyRL server. */
    baseUrl: z.url(),
    /** Default: the TINKER_API_KEY environment variable. Keys start with `tml-`. */
    apiKey: z.string().optional(),
    /** The base model as the server names it (SkyRL: its --base-model). Default: the agent's model. */
    baseModel: z.string().min(1).optional(),
    /** A local folder with the base model's tokenizer and config. Default: baseModel, when it is a local folder. */
    tokenizer: z.string().min(1).optional(),
    /** Default: the agent's lora.rank, else 32. */
    loraRank: z.number().int().positive().max(512).optional(),
    /** Seed of the adapters' initialization. Default 0. */
    seed: z.number().int().nonnegative().optional(),
    /** How the server reduces per-token losses (see server-loss.ts). Default 'datum-mean' (SkyRL 0.4). */
    serverReduction: z.enum(['datum-mean', 'sum']).optional(),
    /** Use the server's own loss when it computes exactly the configured one (one pass instead of two). Default true. */
    builtinLosses: z.boolean().optional(),
    /** Per request, in ms. Default 60 000. */
    requestTimeoutMs: z.number().int().positive().optional(),
    /** Per operation (a future), in ms. Default 30 minutes. */
    futureTimeoutMs: z.number().int().positive().optional(),
    /** Retries of a transient failure. Default 4. */
    retries: z.number().int().nonnegative().max(20).optional(),
  })
  .strict();

export type TinkerBackendOptions = Omit<z.input<typeof TinkerBackendSchema>, 'type'> & { type?: 'tinker' };

export interface ResolvedTinkerOptions {
  baseUrl: string;
  apiKey: string;
  baseModel: string;
  tokenizer: string;
  loraRank: number;
  seed: number;
  serverReduction: ServerReduction;
  builtinLosses: boolean;
  http: { requestTimeoutMs?: number; futureTimeoutMs?: number; retries?: number };
}

export function resolveTinkerOptions(input: TinkerBackendOptions): ResolvedTinkerOptions {
  const o = parseConfig(TinkerBackendSchema, { ...input, type: 'tinker' }, 'backend');
  const apiKey = o.apiKey ?? process.env.TINKER_API_KEY;
  if (apiKey === undefined || apiKey === '') {
    throw new StatesetError('ERR_INVALID_CONFIG', 'the tinker backend needs an API key: set backend.apiKey or TINKER_API_KEY (keys start with "tml-"; a local SkyRL server accepts any, e.g. tml-local).');
  }
  if (!apiKey.startsWith('tml-')) {
    throw new StatesetError('ERR_INVALID_CONFIG', `the Tinker API key must start with "tml-" (got one starting "${apiKey.slice(0, 4)}"): check backend.apiKey / TINKER_API_KEY.`);
  }
  if (o.baseModel === undefined) throw new StatesetError('ERR_INVALID_CONFIG', 'the tinker backend needs backend.baseModel, the base model as the server names it.');
  const tokenizer = o.tokenizer ?? o.baseModel;
  if (!existsSync(tokenizer)) {
    throw new StatesetError('ERR_INVALID_CONFIG', `the tinker backend tokenizes locally and needs the base model's tokenizer: ${tokenizer} is not a local folder. Set backend.tokenizer to a folder holding ${o.baseModel}'s tokenizer.json and config.json.`);
  }
  return {
    baseUrl: o.baseUrl,
    apiKey,
    baseModel: o.baseModel,
    tokenizer: resolve(tokenizer),
    loraRank: o.loraRank ?? 32,
    seed: o.seed ?? 0,
    serverReduction: o.serverReduction ?? 'datum-mean',
    builtinLosses: o.builtinLosses ?? true,
    http: { requestTimeoutMs: o.requestTimeoutMs, futureTimeoutMs: o.futureTimeoutMs, retries: o.retries },
  };
}

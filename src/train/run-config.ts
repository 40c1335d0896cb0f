/**
 * The config file of `stateset-agents train` and `eval`: which model, agent settings,
 * environment, scenarios, rewards, trainer fields and tracking. Built-ins are named; user
 * code is a { module, export } reference loaded at run time. The whole file is validated
 * in one pass (trainer fields after the algorithm's preset is laid under them), so an
 * invalid file reports every problem with its path.
 */
import { readFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { Agent } from '../agent/agent.js';
import { agentConfigSchema, modelSource } from '../agent/config.js';
import { localOrHubId, type ModelSource } from '../io/hub/resolve.js';
import { readConfigFile } from '../config/file.js';
import { parseConfig } from '../config/load.js';
import { importModuleReference, ModuleReferenceSchema } from '../config/modules.js';
import { applyOverrides } from '../config/overrides.js';
import { StatesetError } from '../core/errors.js';
import { ConversationEnvironment } from '../env/conversation.js';
import type { Environment } from '../env/environment.js';
import { CompositeReward, type WeightedReward } from '../rewards/composite.js';
import { rewardFunction, type RewardFunction } from '../rewards/types.js';
import { BUILTIN_REWARDS, builtinReward, builtinRewardEntries } from './builtin-rewards.js';
import { deepMerge, presetConfig, TrainerConfigSchema } from './config.js';
import { ALGORITHMS, type Algorithm } from './presets.js';
import { isTinyModelName, tinyModelPath } from './tiny-model-cache.js';
import type { TrackingOptions } from './tracking.js';

const withOptions = { options: z.record(z.string(), z.unknown()).optional() };

const EnvironmentSchema = z
  .strictObject({
    /** A built-in environment: a conversation with a scripted user, or one reply per scenario. */
    type: z.enum(['conversation', 'single_turn']).optional(),
    systemPrompt: z.string().optional(),
    maxTurns: z.number().int().positive().optional(),
    maxToolCallsPerTurn: z.number().int().positive().optional(),
    /** Your own: a module exporting an Environment, or a function of `options` returning one. */
    module: z.string().min(1).optional(),
    export: z.string().min(1).optional(),
    ...withOptions,
  })
  .refine((e) => (e.type === undefined) !== (e.module === undefined), {
    error: 'give either type (conversation or single_turn) or module (with export) for your own environment',
  });

/** Inline items, a .json/.jsonl/.yaml file of them, or a module exporting them (or a function returning them). */
const ItemsSchema = z.union([z.array(z.record(z.string(), z.unknown())).min(1), z.strictObject({ file: z.string().min(1) }), ModuleReferenceSchema.extend(withOptions).strict()], {
  error: 'expected a non-empty list of items, { file: path } (.jsonl, .json or .yaml), or { module, export }',
});

const weight = z.number().default(1);

/** A built-in reward by name (its options checked by the built-in's own schema), or your own module. */
const RewardSchema = z.discriminatedUnion('name', [
  z.strictObject({
    name: z.undefined().optional(),
    /** Your own: a module exporting a reward function, or a function of `options` returning one. */
    module: z.string({ error: `give either name (a built-in reward: ${Object.keys(BUILTIN_REWARDS).join(', ')}) or module (with export) for your own` }).min(1),
    export: z.string().min(1).optional(),
    weight,
    ...withOptions,
  }),
  ...builtinRewardEntries(weight),
]);

export const RunConfigSchema = z.strictObject({
  /** A HuggingFace folder, a .gguf file (relative to the config file), a Hub model id (owner/name), or `tiny` / `tiny:gpt2`. */
  model: z.string().min(1),
  /** A Hub model's branch, tag or commit (default main). */
  revision: z.string().min(1).optional(),
  /** The file to load from a Hub repo of GGUF files. */
  ggufFile: z.string().min(1).optional(),
  agent: agentConfigSchema.omit({ model: true, revision: true, ggufFile: true }).optional(),
  environment: EnvironmentSchema.default({ type: 'conversation' }),
  scenarios: ItemsSchema.optional(),
  evalScenarios: ItemsSchema.optional(),
  /** SFT: conversations ({ messages }) whose assistant messages are the targets. */
  dataset: ItemsSchema.optional(),
  rewards: z.array(RewardSchema).optional(),
  rewardTimeoutMs: z.number().positive().optional(),
  trainer: TrainerConfigSchema,
  tracking: z
    .strictObject({
      tensorboard: z.boolean().optional(),
      quiet: z.boolean().optional(),
      wandb: z.strictObject({ project: z.string().min(1), entity: z.string().optional(), name: z.string().optional() }).optional(),
    })
    .default({}),
  /** The run folder, when --out does not say. */
  out: z.string().min(1).optional(),
});

export type RunConfig = z.output<typeof RunConfigSchema>;

/**
 * Validates a raw config (a file's contents with --set overrides applied). The trainer
 * section may be partial: the algorithm's preset fills it (`algorithm` may also be given at
 * the top level).
 */
export function parseRunConfig(raw: Record<string, unknown>, source: string): RunConfig {
  const { algorithm: topAlgorithm, ...rest } = raw;
  const trainer = (raw.trainer ?? {}) as Record<string, unknown>;
  const algorithm = (trainer.algorithm ?? topAlgorithm ?? 'grpo') as Algorithm;
  const preset = presetConfig(ALGORITHMS.includes(algorithm) ? algorithm : 'grpo');
  const merged = { ...rest, trainer: isObject(raw.trainer) || raw.trainer === undefined ? deepMerge(preset, { ...trainer, algorithm }) : raw.trainer };
  return parseConfig(RunConfigSchema, merged, source);
}

/** Reads a config file, applies `--set` overrides, validates. */
export function loadRunConfig(file: string, overrides: readonly string[] = []): { config: RunConfig; raw: Record<string, unknown>; baseDir: string } {
  const raw = applyOverrides(readConfigFile(file), overrides);
  return { config: parseRunConfig(raw, resolve(file)), raw, baseDir: resolve(file, '..') };
}

export function modelPath(model: string, baseDir: string): string {
  if (isTinyModelName(model)) return tinyModelPath(model);
  return localOrHubId(model, baseDir);
}

/** The agent of a run config; `model` replaces the config's model (and its revision and GGUF file). */
export async function createAgent(config: RunConfig, baseDir: string, model?: { model: string } & ModelSource): Promise<Agent> {
  return Agent.create({ ...config.agent, ...(model ?? { model: modelPath(config.model, baseDir), ...modelSource(config) }) });
}

export async function createEnvironment(config: RunConfig, baseDir: string): Promise<Environment<any, any>> {
  const env = config.environment;
  if (env.module !== undefined) {
    const value = await importModuleReference({ module: env.module, export: env.export }, baseDir, 'environment');
    const made = typeof value === 'function' ? await (value as (o: unknown) => unknown)(env.options ?? {}) : value;
    if (!isObject(made) || typeof made.reset !== 'function' || typeof made.step !== 'function') {
      throw new StatesetError('ERR_INVALID_CONFIG', `environment: ${env.module} must export an Environment (an object with reset and step) or a function returning one.`);
    }
    return made as unknown as Environment;
  }
  if (env.type === 'single_turn') return new ConversationEnvironment({ systemPrompt: env.systemPrompt, maxTurns: 1 });
  return new ConversationEnvironment({ systemPrompt: env.systemPrompt, maxTurns: env.maxTurns, maxToolCallsPerTurn: env.maxToolCallsPerTurn });
}

export async function createRewards(config: RunConfig, baseDir: string): Promise<CompositeReward<any> | undefined> {
  if (!config.rewards?.length) return undefined;
  const entries: WeightedReward<any>[] = [];
  for (const [i, entry] of config.rewards.entries()) {
    const where = `rewards.${i}`;
    if (!('module' in entry)) {
      entries.push({ reward: builtinReward(entry.name, entry.options, where), weight: entry.weight });
      continue;
    }
    const value = await importModuleReference({ module: entry.module, export: entry.export }, baseDir, where);
    const reward = typeof value === 'function' ? await (value as (o: unknown) => unknown)(entry.options ?? {}) : value;
    try {
      entries.push({ reward: rewardFunction(reward as RewardFunction), weight: entry.weight });
    } catch (err) {
      throw new StatesetError('ERR_INVALID_CONFIG', `${where}: ${entry.module} must export a reward function ({ name, scope, score }) or a function returning one: ${(err as Error).message}`);
    }
  }
  return new CompositeReward(entries, { timeoutMs: config.rewardTimeoutMs });
}

/** Scenarios, eval scenarios or an SFT dataset from their config entry. */
export async function loadItems(items: z.output<typeof ItemsSchema>, baseDir: string, where: string): Promise<unknown[]> {
  if (Array.isArray(items)) return items;
  if ('file' in items) return readItemsFile(resolve(baseDir, items.file), where);
  const value = await importModuleReference(items, baseDir, where);
  const list = typeof value === 'function' ? await (value as (o: unknown) => unknown)(items.options ?? {}) : value;
  if (!Array.isArray(list) || list.length === 0) throw new StatesetError('ERR_INVALID_CONFIG', `${where}: ${items.module} must export a non-empty list (or a function returning one).`);
  return list;
}

function readItemsFile(path: string, where: string): unknown[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new StatesetError('ERR_CONFIG_FILE', `${where}: cannot read ${path}: ${(cause as Error).message}`, { cause });
  }
  const ext = extname(path).toLowerCase();
  let list: unknown;
  try {
    if (ext === '.jsonl') list = text.split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line));
    else if (ext === '.json') list = JSON.parse(text);
    else if (ext === '.yaml' || ext === '.yml') list = parseYaml(text);
    else throw new Error(`unsupported file type "${ext}"; use .jsonl, .json or .yaml`);
  } catch (cause) {
    throw new StatesetError('ERR_CONFIG_FILE', `${where}: ${path}: ${(cause as Error).message}`, { cause });
  }
  if (!Array.isArray(list) || list.length === 0) throw new StatesetError('ERR_CONFIG_FILE', `${where}: ${path} must hold a non-empty list.`);
  return list;
}

export function trackingOptions(config: RunConfig, quiet: boolean): TrackingOptions {
  const { tensorboard, wandb } = config.tracking;
  return { console: { quiet: quiet || config.tracking.quiet }, tensorboard, ...(wandb ? { wandb } : {}) };
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}


/** AgentConfig: what model to run, how to prompt it and how to sample from it. */
import { z } from 'zod';
import { backendConfigSchema } from '../backends/config.js';
import { parseWith } from '../core/validate.js';
import type { ModelSource } from '../io/hub/resolve.js';

/** Sampling defaults; each can be overridden per agent and per call. */
export const GENERATION_DEFAULTS = {
  /** Tokens generated per assistant turn at most. */
  maxNewTokens: 256,
  /**
   * 1.0 samples from the model's own distribution, which RL needs: the rollout log-probs
   * are computed at this temperature, so the policy the trainer scores is the one sampled.
   */
  temperature: 1.0,
  /** Nucleus sampling; 1 = off. */
  topP: 1.0,
  /** 0 = off. */
  topK: 0,
  /** 0 = off. */
  minP: 0,
  /** 1 = off. */
  repetitionPenalty: 1.0,
  /** Extra ids that end a turn, beside the model's end-of-sequence ids. */
  stopTokenIds: [] as number[],
  /** Base seed: each engine call uses the next seed after it, so a run is reproducible. */
  seed: 0,
};

export const generationOverridesSchema = z
  .strictObject({
    maxNewTokens: z.int().positive(),
    temperature: z.number().min(0),
    topP: z.number().gt(0).max(1),
    topK: z.int().min(0),
    minP: z.number().min(0).max(1),
    repetitionPenalty: z.number().positive(),
    stopTokenIds: z.array(z.int().min(0)),
    seed: z.int().min(0),
  })
  .partial();

export const generationSchema = generationOverridesSchema.transform((given) => ({
  ...GENERATION_DEFAULTS,
  ...Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)),
}) as typeof GENERATION_DEFAULTS);

export const loraSchema = z.strictObject({
  rank: z.int().positive().default(8),
  alpha: z.number().positive().default(16),
  /**
   * Only 0 (the default): the LoRA forward has no dropout, so any other rate would be
   * accepted and silently ignored. Kept so that settings copied from PEFT with 0 load.
   */
  dropout: z
    .literal(0, { error: 'LoRA dropout is not implemented (the adapters train without it): remove lora.dropout or set it to 0.' })
    .default(0),
  /** HuggingFace module names the adapters wrap. */
  targetModules: z.array(z.string().min(1)).min(1).default(['q_proj', 'k_proj', 'v_proj', 'o_proj']),
});

export const agentConfigSchema = z.strictObject({
  /** A HuggingFace model folder, a .gguf file, or a Hub model id (owner/name). */
  model: z.string().min(1),
  /** A Hub model's branch, tag or commit (default main); ignored for a local path. */
  revision: z.string().min(1).optional(),
  /** The file to load from a Hub repo of GGUF files; ignored for a local path. */
  ggufFile: z.string().min(1).optional(),
  /** Put first in every conversation that does not start with a system message. */
  systemPrompt: z.string().optional(),
  generation: generationSchema.prefault({}),
  /** A jinja chat template used instead of the model's own. */
  chatTemplate: z.string().min(1).optional(),
  /** Train low-rank adapters instead of every weight; absent = full fine-tuning. */
  lora: loraSchema.optional(),
  /** Where generation and training run. Default: the native engine, in this process. */
  backend: backendConfigSchema.optional(),
});

export type AgentConfigInput = z.input<typeof agentConfigSchema>;
export type AgentConfig = z.output<typeof agentConfigSchema>;
export type GenerationConfig = typeof GENERATION_DEFAULTS;

export function parseAgentConfig(input: unknown): AgentConfig {
  return parseWith(agentConfigSchema, input, 'ERR_INVALID_CONFIG', 'AgentConfig');
}

/** The Hub revision and GGUF file the config picks, as loadModel takes them. */
export function modelSource(config: Pick<AgentConfig, 'revision' | 'ggufFile'>): ModelSource {
  return { ...(config.revision ? { revision: config.revision } : {}), ...(config.ggufFile ? { ggufFile: config.ggufFile } : {}) };
}

export function parseGenerationOverrides(input: unknown): Partial<GenerationConfig> {
  return parseWith(generationOverridesSchema, input ?? {}, 'ERR_INVALID_CONFIG', 'generation');
}

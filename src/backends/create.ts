/** The compute backend an agent's config asks for. */
import { modelSource, type AgentConfig } from '../agent/config.js';
import { loadModel } from '../model/model.js';
import type { LoraOptions } from '../model/train.js';
import type { ComputeBackend } from './compute-backend.js';
import { TinkerBackend } from './tinker/backend.js';

export async function createBackend(config: AgentConfig, lora: LoraOptions | undefined): Promise<ComputeBackend> {
  const backend = config.backend;
  if (backend?.type === 'tinker') {
    return TinkerBackend.create({
      ...backend,
      baseModel: backend.baseModel ?? config.model,
      tokenizer: backend.tokenizer ?? config.model,
      loraRank: backend.loraRank ?? config.lora?.rank,
      seed: backend.seed ?? (lora && 'seed' in lora ? lora.seed : undefined),
    });
  }
  return loadModel(config.model, { ...modelSource(config), ...(lora ? { lora } : {}) });
}

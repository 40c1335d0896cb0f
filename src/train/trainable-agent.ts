/**
 * An Agent ready for training: its model is loaded with the agent config's LoRA settings
 * (adapters on the target modules, the base frozen), or with every weight trainable when
 * the config has no `lora`.
 */
import { Agent } from '../agent/agent.js';
import { parseAgentConfig, type AgentConfigInput } from '../agent/config.js';
import { loadModel } from '../model/model.js';

export async function createTrainableAgent(config: AgentConfigInput, options: { loraSeed?: number } = {}): Promise<Agent> {
  const parsed = parseAgentConfig(config);
  const lora = parsed.lora && { rank: parsed.lora.rank, alpha: parsed.lora.alpha, targetModules: parsed.lora.targetModules, seed: options.loraSeed ?? 0 };
  return Agent.create(parsed, { policy: await loadModel(parsed.model, lora ? { lora } : undefined) });
}

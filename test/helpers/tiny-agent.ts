// A real tiny model (random weights, real BPE tokenizer, ChatML template) behind an Agent.
import { Agent, makeTinyModel, type AgentConfigInput } from '../../src/index.js';
import { tempDir } from './tiny-model.js';

const folders = new Map<string, string>();

/** The folder of a tiny model, written once per architecture and test file. */
export function tinyModelDir(arch: 'gpt2' | 'llama' = 'llama'): string {
  let dir = folders.get(arch);
  if (!dir) {
    dir = tempDir();
    makeTinyModel({ arch, outDir: dir, seed: 7 });
    folders.set(arch, dir);
  }
  return dir;
}

export function tinyAgent(arch: 'gpt2' | 'llama' = 'llama', config: Partial<AgentConfigInput> = {}): Promise<Agent> {
  return Agent.create({ model: tinyModelDir(arch), ...config });
}

/** `stateset-agents export`: a trained model (LoRA merged) as a GGUF file for llama.cpp and Ollama. */
import { basename } from 'node:path';
import type { Command } from 'commander';
import { exportGguf, GGUF_TYPES, type GgufType } from '../io/export.js';

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('write a model as one GGUF file (weights, tokenizer, chat template) that llama.cpp and Ollama run')
    .requiredOption('--model <path>', 'a model folder (e.g. RUN/checkpoints/step-N/model), a LoRA adapter folder (merged into its base), a checkpoint folder, or a .gguf file')
    .requiredOption('--to <file>', 'the .gguf file to write')
    .option('--type <type>', `matrix precision: ${GGUF_TYPES.join(' | ')}`, 'f16')
    .option('--name <name>', 'the model name stored in the file (general.name)')
    .action(async (options: { model: string; to: string; type: string; name?: string }) => {
      const out = await exportGguf({ model: options.model, to: options.to, type: options.type as GgufType, name: options.name });
      const merged = out.adapter ? `, LoRA adapter ${out.adapter} merged` : '';
      console.log(`wrote ${out.path}: ${out.architecture}, ${out.type}, ${out.tensors} tensors, ${(out.bytes / 2 ** 20).toFixed(1)} MiB${merged}`);
      if (out.f16Fallbacks.length > 0) console.log(`stored as f16 (rows not a multiple of 32 values): ${out.f16Fallbacks.join(', ')}`);
      console.log(`run it with: llama-cli -m ${out.path}   or, for Ollama, a Modelfile holding "FROM ${out.path}", then: ollama create ${basename(out.path, '.gguf')} -f Modelfile`);
    });
}

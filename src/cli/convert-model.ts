/** `stateset-agents convert-model`: a GGUF file or model folder to a HuggingFace folder. */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { convertModel } from '../io/models.js';

export function registerConvertModel(program: Command): void {
  program
    .command('convert-model')
    .description('write a .gguf file (dequantized to f32) or a model folder as a HuggingFace folder')
    .requiredOption('--from <path>', 'a .gguf file or a HuggingFace model folder')
    .requiredOption('--out <dir>', 'folder to write the HuggingFace model into')
    .action(async (options: { from: string; out: string }) => {
      const outDir = resolve(options.out);
      const info = await convertModel(resolve(options.from), outDir);
      console.log(`wrote a ${info.config.architecture} model with ${info.config.numParameters} parameters to ${outDir}`);
    });
}

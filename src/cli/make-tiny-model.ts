/** `stateset-agents make-tiny-model`: writes a tiny random model for tests and demos. */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { fail } from '../core/errors.js';
import { makeTinyModel } from '../io/models.js';
import type { Architecture } from '../io/types.js';

const ARCHITECTURES: readonly Architecture[] = ['gpt2', 'llama'];

export function registerMakeTinyModel(program: Command): void {
  program
    .command('make-tiny-model')
    .description('write a tiny random model (HuggingFace folder with a ChatML tokenizer) for tests and demos')
    .requiredOption('--arch <arch>', `architecture: ${ARCHITECTURES.join(' | ')}`)
    .requiredOption('--out <dir>', 'folder to write the model into')
    .option('--seed <n>', 'seed of the random weights', '0')
    .action((options: { arch: string; out: string; seed: string }) => {
      if (!ARCHITECTURES.includes(options.arch as Architecture)) {
        fail('ERR_INVALID_ARGUMENT', `--arch must be one of ${ARCHITECTURES.join(', ')}, got '${options.arch}'`);
      }
      const seed = Number(options.seed);
      if (!/^\d+$/.test(options.seed) || !Number.isSafeInteger(seed)) {
        fail('ERR_INVALID_ARGUMENT', `--seed must be a non-negative integer, got '${options.seed}'`);
      }
      const outDir = resolve(options.out);
      const info = makeTinyModel({ arch: options.arch as Architecture, outDir, seed });
      const c = info.config;
      console.log(
        `wrote a tiny ${c.architecture} model to ${outDir}: ${c.numParameters} parameters, ` +
          `${info.tokenizerSize} tokens, ${c.numLayers} layers, hidden ${c.hiddenSize}`,
      );
    });
}

/** The `stateset-agents` command line. Each subcommand lives in its own module. */
import { Command, CommanderError } from 'commander';
import { StatesetError } from '../core/errors.js';
import { registerConvertModel } from './convert-model.js';
import { registerDemo } from './demo.js';
import { registerExport } from './export.js';
import { registerMakeTinyModel } from './make-tiny-model.js';
import { registerTrain } from './train.js';
import { registerEval } from './eval.js';
import { registerChat } from './chat.js';

export async function main(argv: string[]): Promise<number> {
  const program = new Command('stateset-agents')
    .description('Train multi-turn conversational agents with reinforcement learning.')
    .exitOverride();
  program
    .command('version')
    .description('print the package version')
    .action(async () => {
      const { createRequire } = await import('node:module');
      console.log(createRequire(import.meta.url)('../../package.json').version);
    });
  registerMakeTinyModel(program);
  registerConvertModel(program);
  registerExport(program);
  registerTrain(program);
  registerEval(program);
  registerChat(program);
  registerDemo(program);
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof StatesetError) {
      console.error(`error (${err.code}): ${err.message}`);
      return 1;
    }
    throw err;
  }
}

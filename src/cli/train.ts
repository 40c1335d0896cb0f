/**
 * `stateset-agents train --config FILE [--out DIR] [--steps N] [--seed S] [--resume DIR] [--set k=v ...]`
 *
 * An invalid config prints every problem and exits 2 before anything starts. Ctrl-C (or
 * SIGTERM) finishes the current step, writes a checkpoint and exits 0 saying how to
 * resume; a second Ctrl-C quits at once (the previous checkpoint stays intact).
 */
import { Command, CommanderError } from 'commander';
import { resolve } from 'node:path';
import { StatesetError } from '../core/errors.js';
import { readRunConfig } from '../train/run-folder.js';
import { createAgent, createEnvironment, createRewards, loadItems, loadRunConfig, parseRunConfig, trackingOptions, type RunConfig } from '../train/run-config.js';
import { train } from '../train/trainer.js';
import { applyOverrides } from '../config/overrides.js';

interface TrainFlags {
  config?: string;
  out?: string;
  steps?: string;
  seed?: string;
  resume?: string;
  set: string[];
  quiet?: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('train an agent from a config file (YAML or JSON) into a run folder')
    .option('--config <file>', 'the run config (.yaml, .yml or .json); optional with --resume')
    .option('--out <dir>', 'the run folder (default: the config\'s `out`)')
    .option('--steps <n>', 'total optimizer steps of the run (a resumed run continues up to it)')
    .option('--seed <s>', 'the run seed')
    .option('--resume <dir>', 'continue the run in <dir> from its newest complete checkpoint')
    .option('--set <key=value>', 'override a config field, e.g. --set trainer.learningRate=1e-5 (repeatable)', collect, [])
    .option('--quiet', 'plain progress lines instead of a live bar')
    .action(async (flags: TrainFlags) => {
      const { config, baseDir, raw } = configOrExit(flags);
      const out = resolve(flags.resume ?? flags.out ?? config.out ?? fail('give the run folder with --out DIR (or `out:` in the config)'));
      const agent = await createAgent(config, baseDir);
      const needsRollouts = !(config.trainer.algorithm === 'sft' && config.dataset);
      const stop = new AbortController();
      const removeHandlers = onStopSignals(stop);
      try {
        const result = await train({
          agent,
          environment: needsRollouts || config.evalScenarios ? await createEnvironment(config, baseDir) : undefined,
          rewards: await createRewards(config, baseDir),
          scenarios: config.scenarios ? await loadItems(config.scenarios, baseDir, 'scenarios') : undefined,
          evalScenarios: config.evalScenarios ? await loadItems(config.evalScenarios, baseDir, 'evalScenarios') : undefined,
          dataset: config.dataset ? await loadItems(config.dataset, baseDir, 'dataset') : undefined,
          config: config.trainer,
          tracking: trackingOptions(config, flags.quiet ?? false),
          out,
          resume: flags.resume !== undefined,
          signal: stop.signal,
          describe: { run: raw, baseDir },
        });
        const where = result.checkpoint ? ` Checkpoint: ${result.checkpoint.dir}.` : '';
        if (result.stopped) {
          console.log(`Stopped at step ${result.step} of ${result.config.steps}.${where} Resume with: stateset-agents train --resume ${out}`);
        } else {
          console.log(`Trained ${result.step} steps into ${out}.${where}`);
        }
      } finally {
        removeHandlers();
      }
    });
}

/** The config from --config, else (resuming) the one the run folder recorded; exits 2 when invalid. */
function configOrExit(flags: TrainFlags): { config: RunConfig; baseDir: string; raw: Record<string, unknown> } {
  const overrides = [...flags.set, ...(flags.steps ? [`trainer.steps=${flags.steps}`] : []), ...(flags.seed ? [`trainer.seed=${flags.seed}`] : [])];
  try {
    if (flags.config) return loadRunConfig(flags.config, overrides);
    if (!flags.resume) fail('give a config file with --config FILE');
    const recorded = readRunConfig(resolve(flags.resume));
    const raw = applyOverrides(recorded.run as Record<string, unknown>, overrides);
    return { config: parseRunConfig(raw, `${resolve(flags.resume)}/config.json`), raw, baseDir: String(recorded.baseDir) };
  } catch (err) {
    if (err instanceof StatesetError && (err.code === 'ERR_INVALID_CONFIG' || err.code === 'ERR_CONFIG_FILE')) {
      console.error(`error (${err.code}): ${err.message}`);
      throw new CommanderError(2, 'stateset.invalidConfig', err.message);
    }
    throw err;
  }
}

function fail(message: string): never {
  throw new StatesetError('ERR_INVALID_ARGUMENT', message);
}

/** First SIGINT/SIGTERM: stop after this step. Second: quit now. */
function onStopSignals(stop: AbortController): () => void {
  const handler = (signal: NodeJS.Signals) => {
    if (stop.signal.aborted) {
      console.error(`${signal} again: quitting now; the run resumes from its previous checkpoint.`);
      process.exit(130);
    }
    console.error(`${signal}: finishing the current step and writing a checkpoint (press Ctrl-C again to quit at once).`);
    stop.abort();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

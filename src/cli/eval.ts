/**
 * `stateset-agents eval --model DIR --config FILE --out FILE`: one episode per evaluation
 * scenario (the config's evalScenarios, else its scenarios) with the config's environment,
 * rewards and generation settings; writes the metrics and every episode as JSON.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { StatesetError } from '../core/errors.js';
import { evaluate } from '../train/evaluate.js';
import { createAgent, createEnvironment, createRewards, loadItems, loadRunConfig } from '../train/run-config.js';
import { addHubFlags, modelFromFlags, type ModelFlags } from './model-flags.js';

export function registerEval(program: Command): void {
  const command = program
    .command('eval')
    .description('evaluate a model on the scenarios of a run config; write metrics and episodes as JSON')
    .requiredOption('--model <model>', 'the model folder (e.g. <run>/checkpoints/step-N/model), .gguf file or Hub id (owner/name)');
  addHubFlags(command)
    .requiredOption('--config <file>', 'the run config naming environment, scenarios and rewards')
    .requiredOption('--out <file>', 'the JSON file to write')
    .option('--set <key=value>', 'override a config field (repeatable)', (v: string, p: string[]) => [...p, v], [])
    .action(async (flags: ModelFlags & { config: string; out: string; set: string[] }) => {
      const { config, baseDir } = loadRunConfig(flags.config, flags.set);
      const items = config.evalScenarios ?? config.scenarios;
      if (!items) throw new StatesetError('ERR_INVALID_CONFIG', `${flags.config} has no evalScenarios or scenarios to evaluate on.`);
      const { metrics, trajectories } = await evaluate({
        agent: await createAgent(config, baseDir, modelFromFlags(flags)),
        environment: await createEnvironment(config, baseDir),
        scenarios: await loadItems(items, baseDir, config.evalScenarios ? 'evalScenarios' : 'scenarios'),
        rewards: await createRewards(config, baseDir),
        generation: { ...config.trainer.generation, seed: config.trainer.seed },
        concurrency: config.trainer.rolloutConcurrency,
      });
      const episodes = trajectories.map((t) => ({ messages: t.messages, reward: t.reward, rewardScores: t.rewardScores, doneReason: t.doneReason }));
      writeFileSync(resolve(flags.out), JSON.stringify({ model: modelFromFlags(flags).model, metrics, episodes }, null, 2) + '\n');
      console.log(Object.entries(metrics).map(([k, v]) => `${k} ${Number(v.toPrecision(4))}`).join(' | '));
    });
}

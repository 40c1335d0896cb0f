/** `stateset-agents demo`: trains one of the example agents and writes its report. */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { BackendConfig } from '../backends/config.js';
import { fail } from '../core/errors.js';
import { runOrderDesk } from '../demo/order-desk/run.js';
import { DEMO_ALGORITHMS, DEMO_DEFAULTS, runDemo, type DemoAlgorithm } from '../demo/run.js';
import { addHubFlags, modelFromFlags, type ModelFlags } from './model-flags.js';

export const DEMO_EXAMPLES = ['customer-service', 'order-desk'] as const;
type DemoExample = (typeof DEMO_EXAMPLES)[number];

type DemoFlags = ModelFlags & { example: string; algorithm: string; steps?: string; seed: string; out: string; backend: string; baseUrl?: string; apiKey?: string };

export function registerDemo(program: Command): void {
  const command = program
    .command('demo')
    .description('train an example agent and write report.json and report.html: customer-service (polite, concise replies) or order-desk (tool calls checked against the order store)')
    .option('--example <name>', DEMO_EXAMPLES.join(' | '), 'customer-service')
    .option('--model <model>', "'tiny' (the example's shipped model), a model folder, a .gguf file or a Hub id (owner/name)", 'tiny');
  addHubFlags(command)
    .option('--algorithm <name>', DEMO_ALGORITHMS.join(' | '), 'grpo')
    .option('--steps <n>', `training steps (default ${DEMO_DEFAULTS.steps})`)
    .option('--seed <n>', 'seed of every random choice', '0')
    .option('--out <dir>', 'folder for the report and the run', 'demo-report')
    .option('--backend <type>', "where generation and training run: 'native' (this process) or 'tinker' (a Tinker-compatible service)", 'native')
    .option('--base-url <url>', 'the Tinker-compatible service (with --backend tinker)')
    .option('--api-key <key>', 'its API key (default: TINKER_API_KEY)')
    .action(async (options: DemoFlags) => {
      if (!DEMO_EXAMPLES.includes(options.example as DemoExample)) {
        fail('ERR_INVALID_ARGUMENT', `--example must be one of ${DEMO_EXAMPLES.join(', ')}, got '${options.example}'`);
      }
      if (!DEMO_ALGORITHMS.includes(options.algorithm as DemoAlgorithm)) {
        fail('ERR_INVALID_ARGUMENT', `--algorithm must be one of ${DEMO_ALGORITHMS.join(', ')}, got '${options.algorithm}'`);
      }
      const common = {
        ...(options.model === 'tiny' ? { model: 'tiny' } : modelFromFlags(options)),
        algorithm: options.algorithm as DemoAlgorithm,
        steps: options.steps === undefined ? undefined : integerOption('--steps', options.steps, 1),
        seed: integerOption('--seed', options.seed, 0),
        out: resolve(options.out),
        backend: backendOption(options),
      };
      if (options.example === 'order-desk') {
        const { before, after, kl_to_base } = await runOrderDesk(common);
        console.log(
          `before -> after on held-out scenarios: success ${before.success_rate.toFixed(3)} -> ${after.success_rate.toFixed(3)}, ` +
            `tool-call accuracy ${before.tool_call_accuracy.toFixed(2)} -> ${after.tool_call_accuracy.toFixed(2)}, KL to base ${kl_to_base.toFixed(4)}`,
        );
        return;
      }
      const { before, after, kl_to_base } = await runDemo(common);
      console.log(
        `before -> after on held-out scenarios: reward ${before.reward_mean.toFixed(3)} -> ${after.reward_mean.toFixed(3)}, ` +
          `polite ${before.polite_rate.toFixed(2)} -> ${after.polite_rate.toFixed(2)}, words ${before.mean_words.toFixed(1)} -> ${after.mean_words.toFixed(1)}, ` +
          `KL to base ${kl_to_base.toFixed(4)}`,
      );
    });
}

function backendOption(options: { backend: string; baseUrl?: string; apiKey?: string }): BackendConfig | undefined {
  if (options.backend === 'native') return undefined;
  if (options.backend !== 'tinker') fail('ERR_INVALID_ARGUMENT', `--backend must be native or tinker, got '${options.backend}'`);
  if (!options.baseUrl) fail('ERR_INVALID_ARGUMENT', '--backend tinker needs --base-url, the address of the Tinker-compatible service');
  return { type: 'tinker', baseUrl: options.baseUrl, ...(options.apiKey ? { apiKey: options.apiKey } : {}) };
}

function integerOption(name: string, text: string, min: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < min) fail('ERR_INVALID_ARGUMENT', `${name} must be an integer >= ${min}, got '${text}'`);
  return value;
}

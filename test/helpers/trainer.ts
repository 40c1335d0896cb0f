// Small training runs for the trainer tests: a tiny model, a scripted user, text rewards.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { ConversationEnvironment, politeness, conciseness, type ConversationScenario, type TrainerConfig, type DeepPartial } from '../../src/index.js';

export const SCENARIOS: ConversationScenario[] = [
  { id: 'order', userTurns: ['Where is my order?'] },
  { id: 'refund', userTurns: ['I want a refund please.'] },
  { id: 'billing', userTurns: ['I was charged twice.'] },
];

export const environment = () => new ConversationEnvironment({ systemPrompt: 'Be polite.', maxTurns: 1 });
export const rewards = () => [politeness(), { reward: conciseness({ maxWords: 3 }), weight: 0.5 }];

/** Sizes that keep a step to a fraction of a second on the tiny model. */
export const TINY_TRAINER: DeepPartial<TrainerConfig> = {
  steps: 4,
  batchSize: 2,
  groupSize: 2,
  learningRate: 1e-3,
  generation: { maxNewTokens: 6 },
  // The tiny model rarely stops by itself: keep its truncated turns in the loss.
  overlong: { cacheLength: 2, maskTruncated: false },
  samplesPerStep: 1,
};

export function readJsonl(file: string): Record<string, unknown>[] {
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line));
}

/** The metrics lines of a run, without the fields that measure wall time. */
export function metricsWithoutTimes(runDir: string): Record<string, unknown>[] {
  return readJsonl(join(runDir, 'metrics.jsonl')).map(({ time, step_time_s, rollout_time_s, update_time_s, tokens_per_s, ...rest }) => rest);
}

/** Spawns the CLI from the sources; resolves with its exit code and output. */
export function runCli(args: string[], options: { env?: Record<string, string>; onStdout?: (text: string, child: ChildProcess) => void } = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'run-cli.ts'), ...args], {
    env: { ...process.env, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => {
    stdout += d;
    options.onStdout?.(stdout, child);
  });
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, done };
}

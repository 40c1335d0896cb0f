/**
 * bench:grpo's project side: the benchmark's GRPO workload with the project's trainer, the
 * same model folder, prompts and reward as bench/grpo/trl_run.py. Each step samples 8
 * completions of 64 new tokens for each of 4 prompts (one turn each), scores them, and takes
 * one full fine-tuning step (beta 0). Prints one JSON object: the time of each step (the
 * trainer's step_time_s: sampling, scoring and the update), completion tokens per step and
 * the peak RSS of the process.
 *
 * Usage: node --import tsx bench/grpo/project-run.ts --model DIR --prompts FILE --steps N [--micro-batch M]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Agent, PromptDataset, rewardFunction, singleTurnEnvironment, train } from '../../src/index.js';

const { values } = parseArgs({ options: { model: { type: 'string' }, prompts: { type: 'string' }, steps: { type: 'string' }, 'micro-batch': { type: 'string' }, seed: { type: 'string' } } });
if (!values.model || !values.prompts || !values.steps) throw new Error('usage: project-run.ts --model DIR --prompts FILE --steps N [--micro-batch M] [--seed S]');

// The benchmark's reward: characters in the completion / 100 (trl_run.py has the same).
const length = rewardFunction({ name: 'length', scope: 'episode', score: (episode) => (episode.turns[0]?.assistant.content.length ?? 0) / 100 });

const agent = await Agent.create({ model: values.model, generation: { maxNewTokens: 64, temperature: 1 } });
const dataset = await PromptDataset.fromJsonl(values.prompts);
const out = mkdtempSync(join(tmpdir(), 'stateset-bench-grpo-'));
const stepSeconds: number[] = [];
const phases: Array<{ rollout_s: number; update_s: number }> = [];
const completionTokens: number[] = [];
try {
  await train({
    agent,
    algorithm: 'grpo',
    environment: singleTurnEnvironment(),
    scenarios: dataset.scenarios(),
    rewards: [length],
    config: {
      steps: Number(values.steps),
      seed: Number(values.seed ?? 0),
      batchSize: 4,
      groupSize: 8,
      microBatchSize: Number(values['micro-batch'] ?? 8),
      learningRate: 1e-6,
      generation: { maxNewTokens: 64, temperature: 1, topP: 1, topK: 0, minP: 0 },
      loss: { beta: 0 },
      saveEvery: 0,
      samplesPerStep: 0,
    },
    tracking: { console: false, tensorboard: false },
    out,
    callbacks: {
      onStep: (_step, metrics) => {
        stepSeconds.push(Number(metrics.step_time_s));
        phases.push({ rollout_s: Number(Number(metrics.rollout_time_s).toFixed(3)), update_s: Number(Number(metrics.update_time_s).toFixed(3)) });
        completionTokens.push(Number(metrics.completion_tokens_mean) * 32);
      },
    },
  });
} finally {
  rmSync(out, { recursive: true, force: true });
}
console.log(JSON.stringify({ step_seconds: stepSeconds, phases, completion_tokens: completionTokens, peak_rss_mib: process.resourceUsage().maxRSS / 1024 }));

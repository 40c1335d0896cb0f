/**
 * `npm run bench:rollout`: multi-turn rollout throughput on a tiny model, with every
 * episode of a turn wave batched into one engine call (concurrency 32) against one
 * episode at a time (concurrency 1), and the share of time spent outside the engine
 * (templates, tokenizing the text between turns, environment steps). Prints JSON.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, collectRollouts, ConversationEnvironment, loadModel, makeTinyModel, type Policy } from '../src/index.js';

const SCENARIOS = 8;
const GROUP_SIZE = 4;
const TURNS = 3;
const MAX_NEW_TOKENS = 32;

const dir = mkdtempSync(join(tmpdir(), 'stateset-bench-rollout-'));
makeTinyModel({ arch: 'llama', outDir: dir, seed: 1 });
const model = await loadModel(dir);

// Time spent inside the engine, measured around every generate call.
let engineSeconds = 0;
const timed: Policy = {
  config: model.config,
  tokenize: (text) => model.tokenize(text),
  detokenize: (ids) => model.detokenize(ids),
  generate: async (prompts, options) => {
    const start = process.hrtime.bigint();
    const out = await model.generate(prompts, options);
    engineSeconds += Number(process.hrtime.bigint() - start) / 1e9;
    return out;
  },
};
const measured = await Agent.create({ model: dir, generation: { maxNewTokens: MAX_NEW_TOKENS } }, { policy: timed });

const scenarios = Array.from({ length: SCENARIOS }, (_, i) => ({
  id: String(i),
  userTurns: Array.from({ length: TURNS }, (_, t) => `Question ${t + 1} about order ${i}: where is it and when will it arrive?`),
}));
const env = new ConversationEnvironment({ maxTurns: TURNS });

async function run(concurrency: number) {
  engineSeconds = 0;
  const start = process.hrtime.bigint();
  const batch = await collectRollouts(measured, env, scenarios, { groupSize: GROUP_SIZE, concurrency });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return {
    concurrency,
    episodes: batch.stats.episodes,
    generate_calls: batch.stats.generateCalls,
    sampled_tokens: batch.stats.sampledTokens,
    seconds: round(seconds),
    sampled_tokens_per_second: round(batch.stats.sampledTokens / seconds),
    fraction_outside_engine: round((seconds - engineSeconds) / seconds),
  };
}

const round = (x: number) => Math.round(x * 1000) / 1000;

await run(SCENARIOS * GROUP_SIZE); // warm-up
const batched = await run(SCENARIOS * GROUP_SIZE);
const sequential = await run(1);
rmSync(dir, { recursive: true, force: true });
console.log(
  JSON.stringify(
    {
      model: 'tiny llama (hidden 64, 2 layers)',
      scenarios: SCENARIOS,
      group_size: GROUP_SIZE,
      turns: TURNS,
      max_new_tokens: MAX_NEW_TOKENS,
      batched,
      sequential,
      batching_speedup: round(batched.sampled_tokens_per_second / sequential.sampled_tokens_per_second),
    },
    null,
    2,
  ),
);

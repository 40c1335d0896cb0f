/**
 * `npm run bench:soak`: a 200-step GRPO run on a tiny model (multi-turn, scripted user,
 * text rewards, a checkpoint every 50 steps), reporting resident memory after each 100
 * steps and its growth per 100 steps, to catch leaks in the training loop. Prints JSON.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, ConversationEnvironment, conciseness, makeTinyModel, politeness, train } from '../src/index.js';

const STEPS = Number(process.env.SOAK_STEPS ?? 200);
const WINDOW = 100;
const dir = mkdtempSync(join(tmpdir(), 'stateset-bench-soak-'));
makeTinyModel({ arch: 'llama', outDir: join(dir, 'model'), seed: 1 });

const mib = () => process.memoryUsage().rss / 2 ** 20;
const rss: { step: number; rss_mib: number }[] = [];
const started = performance.now();
try {
  await train({
    agent: await Agent.create({ model: join(dir, 'model'), systemPrompt: 'You are a helpful support agent.' }),
    environment: new ConversationEnvironment({ maxTurns: 2 }),
    rewards: [politeness(), { reward: conciseness({ maxWords: 10 }), weight: 0.5 }],
    scenarios: [
      { userTurns: ['Where is my order?', 'Thanks, and when will it arrive?'] },
      { userTurns: ['I want a refund.', 'How long does it take?'] },
      { userTurns: ['I was charged twice.', 'Please fix it.'] },
    ],
    config: { steps: STEPS, batchSize: 2, groupSize: 4, learningRate: 1e-4, generation: { maxNewTokens: 16 }, saveEvery: 50, keepLast: 1, samplesPerStep: 1 },
    tracking: { console: false, tensorboard: true },
    callbacks: {
      onStep(step) {
        if (step === 1 || step % WINDOW === 0) rss.push({ step, rss_mib: Number(mib().toFixed(1)) });
      },
    },
    out: join(dir, 'run'),
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const growth = rss.slice(1).map((r, i) => Number((r.rss_mib - rss[i].rss_mib).toFixed(1)));
console.log(
  JSON.stringify(
    {
      bench: 'soak',
      steps: STEPS,
      seconds: Number(((performance.now() - started) / 1000).toFixed(1)),
      rss,
      // The first window includes warm-up (allocator pools, caches); later windows show leaks.
      rss_growth_mib_per_100_steps: growth,
    },
    null,
    2,
  ),
);

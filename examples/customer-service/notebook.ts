// The customer-service demo, cell by cell. Each `// %%` starts a cell: run them one at a
// time in an editor that knows the marker (VS Code with a TypeScript notebook kernel), or
// the whole file with `npx tsx examples/customer-service/notebook.ts` after `npm run build`.

// %% 1. The agent: the shipped tiny model (a GPT-2 SFT-trained on customer-service text).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Agent,
  SHIPPED_MODEL_DIR,
  collectRollouts,
  demoEnvironment,
  demoReward,
  demoRewardFunctions,
  demoScenarios,
  evaluateDemo,
  klToBase,
  loadModel,
  train,
  writeDemoReport,
} from 'stateset-agents';

const agent = await Agent.create({ model: SHIPPED_MODEL_DIR, generation: { maxNewTokens: 64, seed: 0 } });
console.log(agent.policy.config.architecture, 'model loaded from', SHIPPED_MODEL_DIR);

// %% 2. Scenarios: two-turn conversations with a scripted customer, five topics.
const trainScenarios = demoScenarios('train');
const heldout = demoScenarios('heldout');
console.log(trainScenarios.length, 'training scenarios,', heldout.length, 'held-out; for example:', heldout[0].userTurns);

// %% 3. The environment plays the customer; one conversation with the untrained agent.
const environment = demoEnvironment();
const { trajectories } = await collectRollouts(agent, environment, [heldout[0]], { rewards: demoReward() });
for (const message of trajectories[0].messages) console.log(`${message.role}: ${message.content}`);

// %% 4. Rewards: the built-in politeness and conciseness (under 20 words), summed.
console.log('reward of that conversation:', trajectories[0].reward, trajectories[0].rewardScores);

// %% 5. Before training: the held-out figures.
const before = await evaluateDemo(agent, heldout, { seed: 0, maxNewTokens: 64 });
console.log('before', before.metrics);

// %% 6. Train with GRPO: groups of 8 conversations per scenario, the trainer's run folder in out/run.
const out = mkdtempSync(join(tmpdir(), 'customer-service-'));
await train({
  agent,
  environment,
  rewards: demoRewardFunctions(),
  scenarios: trainScenarios,
  algorithm: 'grpo',
  config: { steps: 16, seed: 0, batchSize: 4, groupSize: 8, learningRate: 2e-4, loss: { beta: 0.05 }, generation: { maxNewTokens: 64 } },
  out: join(out, 'run'),
});

// %% 7. After training: the same held-out scenarios, and how far the policy moved from the base model.
const after = await evaluateDemo(agent, heldout, { seed: 0, maxNewTokens: 64 });
const kl = await klToBase(await loadModel(SHIPPED_MODEL_DIR), after.conversations);
console.log('after', after.metrics, 'KL to base', kl);

// %% 8. The report: report.json and report.html (open it in a browser).
const samples = before.conversations.slice(0, 3).map((b, i) => ({
  scenario: b.scenario.id,
  before: b.messages.filter((m) => m.role !== 'system'),
  after: after.conversations[i].messages.filter((m) => m.role !== 'system'),
}));
const files = await writeDemoReport(out, {
  model: 'tiny',
  algorithm: 'grpo',
  steps: 16,
  seed: 0,
  before: before.metrics,
  after: after.metrics,
  kl_to_base: kl,
  samples,
  training: [
    { step: 0, ...before.metrics, kl: 0 },
    { step: 16, ...after.metrics, kl },
  ],
});
console.log('open', files.html);

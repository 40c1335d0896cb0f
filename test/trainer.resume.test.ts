// Resume: N steps in one run equal N/2 + resume + N/2, bit for bit; a process killed while
// writing a checkpoint leaves the previous one intact, and the run resumes from it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Agent, train } from '../src/index.js';
import { tinyAgent, tinyModelDir } from './helpers/tiny-agent.js';
import { tempDir } from './helpers/tiny-model.js';
import { SCENARIOS, TINY_TRAINER, environment, metricsWithoutTimes, rewards } from './helpers/trainer.js';

const STEPS = 4;
const config = { ...TINY_TRAINER, steps: STEPS, numIterations: 2, saveEvery: 1 };

async function run(out: string, steps: number, resume = false) {
  return train({ agent: await tinyAgent(), environment: environment(), rewards: rewards(), scenarios: SCENARIOS, config: { ...config, steps }, tracking: { console: false }, out, resume });
}

const weights = (out: string, step: number) => readFileSync(join(out, 'checkpoints', `step-${step}`, 'model', 'model.safetensors'));

describe('resume', () => {
  it('N steps equal N/2 + resume + N/2: same weights, same metrics', async () => {
    const whole = join(tempDir(), 'whole');
    const split = join(tempDir(), 'split');
    await run(whole, STEPS);
    const first = await run(split, STEPS / 2);
    assert.equal(first.step, STEPS / 2);
    const second = await run(split, STEPS, true);
    assert.equal(second.step, STEPS);
    assert.ok(weights(whole, STEPS).equals(weights(split, STEPS)), 'weights differ after resuming');
    assert.ok(!weights(whole, STEPS).equals(readFileSync(join(tinyModelDir(), 'model.safetensors'))), 'training did not change the weights');
    assert.deepEqual(metricsWithoutTimes(split), metricsWithoutTimes(whole));
  });

  it('with LoRA: checkpoints hold the adapter, and resuming gives the same adapter', async () => {
    const lora = async (out: string, steps: number, resume = false) =>
      train({
        agent: await Agent.create({ model: tinyModelDir(), lora: { rank: 4, alpha: 8 } }),
        environment: environment(),
        rewards: rewards(),
        scenarios: SCENARIOS,
        config: { ...config, steps },
        tracking: { console: false },
        out,
        resume,
      });
    const whole = join(tempDir(), 'whole');
    const split = join(tempDir(), 'split');
    await lora(whole, 2);
    await lora(split, 1);
    await lora(split, 2, true);
    const adapter = (out: string) => readFileSync(join(out, 'checkpoints', 'step-2', 'adapter', 'adapter_model.safetensors'));
    assert.ok(existsSync(join(whole, 'checkpoints', 'step-2', 'adapter', 'adapter_config.json')));
    assert.ok(!existsSync(join(whole, 'checkpoints', 'step-2', 'model')));
    assert.ok(adapter(whole).equals(adapter(split)), 'adapters differ after resuming');
    assert.deepEqual(metricsWithoutTimes(split), metricsWithoutTimes(whole));
  });

  it('refuses to start a fresh run in a run folder, and to resume an empty one', async () => {
    const out = join(tempDir(), 'run');
    await run(out, 1);
    await assert.rejects(run(out, 2), /already holds a run .*--resume/);
    await assert.rejects(run(join(tempDir(), 'empty'), 2, true), (err: Error & { code?: string }) => err.code === 'ERR_INVALID_CHECKPOINT');
  });

  it('a process killed while writing a checkpoint leaves the previous one, and the run resumes from it', async () => {
    const out = join(tempDir(), 'killed');
    const script = join(tempDir(), 'killed-run.mts');
    // Trains with a checkpoint every step and kills itself (SIGKILL) in the middle of writing the third.
    writeFileSync(
      script,
      `import { train, Agent } from ${JSON.stringify(join(import.meta.dirname, '..', 'src', 'index.ts'))};
import { SCENARIOS, TINY_TRAINER, environment, rewards } from ${JSON.stringify(join(import.meta.dirname, 'helpers', 'trainer.ts'))};
const agent = await Agent.create({ model: ${JSON.stringify(tinyModelDir())} });
const model = agent.policy;
const saveTrainingState = model.saveTrainingState.bind(model);
let saves = 0;
model.saveTrainingState = async (dir) => {
  await saveTrainingState(dir);
  if (++saves === 3) process.kill(process.pid, 'SIGKILL');
};
await train({ agent, environment: environment(), rewards: rewards(), scenarios: SCENARIOS, config: { ...TINY_TRAINER, ...${JSON.stringify({ steps: STEPS, numIterations: 2, saveEvery: 1 })} }, tracking: { console: false }, out: ${JSON.stringify(out)} });
`,
    );
    const killed = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8' });
    assert.equal(killed.signal, 'SIGKILL', killed.stderr);
    const names = readdirSync(join(out, 'checkpoints'));
    assert.deepEqual(names.filter((n) => n.startsWith('step-')).sort(), ['step-1', 'step-2']);
    assert.ok(names.some((n) => n.startsWith('.tmp-step-3-')), `no abandoned temp folder in ${names}`);

    const resumed = await run(out, STEPS, true);
    assert.equal(resumed.step, STEPS);
    assert.ok(!existsSync(join(out, 'checkpoints', names.find((n) => n.startsWith('.tmp-'))!)), 'the abandoned temp folder was not cleaned up');
    const whole = join(tempDir(), 'whole');
    await run(whole, STEPS);
    assert.ok(weights(whole, STEPS).equals(weights(out, STEPS)));
    assert.deepEqual(metricsWithoutTimes(out), metricsWithoutTimes(whole));
  });
});

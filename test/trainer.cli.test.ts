// The CLI end to end: the customer-service example writes a whole run folder; Ctrl-C stops
// cleanly with a checkpoint and a resume hint; eval and chat run on the trained model.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { tempDir } from './helpers/tiny-model.js';
import { readJsonl, runCli } from './helpers/trainer.js';

const EXAMPLE = 'examples/customer-service/config.yaml';
let cache: string;
before(() => {
  cache = join(tempDir(), 'cache');
});
const cli = (args: string[], onStdout?: Parameters<typeof runCli>[1]['onStdout']) => runCli(args, { env: { STATESET_CACHE: cache }, onStdout });

describe('stateset-agents train', () => {
  let run: string;

  it('trains the customer-service example for 5 steps and writes the run folder', async () => {
    run = join(tempDir(), 'run');
    const { code, stdout, stderr } = await cli(['train', '--config', EXAMPLE, '--steps', '5', '--out', run]).done;
    assert.equal(code, 0, stderr);
    assert.match(stdout, /step 5\/5 \| reward [\d.]+ \| kl - \| ETA/);
    assert.match(stdout, /Trained 5 steps into/);

    const config = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8'));
    assert.equal(config.trainer.steps, 5);
    assert.equal(config.trainer.algorithm, 'grpo');
    assert.equal(config.run.model, '../../models/customer-service-tiny');

    const metrics = readJsonl(join(run, 'metrics.jsonl'));
    assert.deepEqual(metrics.map((m) => m.step), [1, 2, 3, 4, 5]);
    for (const key of ['reward_mean', 'reward_std', 'loss', 'grad_norm', 'clip_frac', 'entropy', 'completion_tokens_mean', 'frac_zero_std_groups', 'reward_failures', 'step_time_s', 'rollout_time_s', 'update_time_s', 'tokens_per_s', 'reward/politeness', 'reward/conciseness', 'reward/addresses_topic']) {
      assert.ok(metrics.every((m) => typeof m[key] === 'number'), `metrics.jsonl: ${key}`);
    }
    assert.deepEqual(readJsonl(join(run, 'eval.jsonl')).map((e) => e.step), [5]);
    const samples = readJsonl(join(run, 'samples.jsonl'));
    assert.equal(samples.length, 10);
    const extra = samples[0].extra as { messages: { role: string }[]; rewardScores: Record<string, number> };
    assert.equal(extra.messages[0].role, 'system');
    assert.ok('politeness' in extra.rewardScores);

    assert.deepEqual(readdirSync(join(run, 'checkpoints')).sort(), ['step-5']);
    const checkpoint = join(run, 'checkpoints', 'step-5');
    for (const part of ['COMPLETE', 'model/config.json', 'model/model.safetensors', 'model/tokenizer.json', 'training_state', 'trainer_state.json']) {
      assert.ok(existsSync(join(checkpoint, part)), `checkpoint lacks ${part}`);
    }
    assert.deepEqual(JSON.parse(readFileSync(join(checkpoint, 'trainer_state.json'), 'utf8')), { step: 5, dataPosition: 10, seed: 0, skippedSteps: 0 });
    assert.equal(readdirSync(join(run, 'tensorboard')).filter((f) => f.startsWith('events.out.tfevents')).length, 1);
  });

  it('eval writes metrics and episodes of the trained model', async () => {
    const out = join(tempDir(), 'eval.json');
    const { code, stdout, stderr } = await cli(['eval', '--model', join(run, 'checkpoints', 'step-5', 'model'), '--config', EXAMPLE, '--out', out]).done;
    assert.equal(code, 0, stderr);
    assert.match(stdout, /reward_mean/);
    const written = JSON.parse(readFileSync(out, 'utf8'));
    assert.equal(written.episodes.length, 2);
    assert.ok(Number.isFinite(written.metrics.reward_mean));
  });

  it('chat streams replies until the input ends', async () => {
    const { child, done } = cli(['chat', '--model', join(run, 'checkpoints', 'step-5', 'model'), '--max-tokens', '8']);
    child.stdin!.end('Hello there\n');
    const { code, stdout, stderr } = await done;
    assert.equal(code, 0, stderr);
    assert.match(stdout, /you> assistant> .+\n/s);
  });

  it('Ctrl-C finishes the step, writes a checkpoint and exits 0 with how to resume', async () => {
    const out = join(tempDir(), 'interrupted');
    let sent = false;
    const { done } = cli(['train', '--config', EXAMPLE, '--steps', '500', '--out', out, '--quiet', '--set', 'trainer.evalEvery=0'], (stdout, child) => {
      if (!sent && /step 2\/500/.test(stdout)) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    const { code, stdout, stderr } = await done;
    assert.equal(code, 0, stderr);
    assert.match(stderr, /SIGINT: finishing the current step and writing a checkpoint/);
    const stopped = /Stopped at step (\d+) of 500\. Checkpoint: (\S+)\. Resume with: stateset-agents train --resume (\S+)/.exec(stdout);
    assert.ok(stopped, stdout);
    const step = Number(stopped[1]);
    assert.ok(step >= 2 && step < 500);
    assert.equal(stopped[3], out);
    assert.ok(existsSync(join(out, 'checkpoints', `step-${step}`, 'COMPLETE')));

    // The run continues from there, with the config it recorded.
    const resumed = await cli(['train', '--resume', out, '--steps', String(step + 1), '--quiet']).done;
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, new RegExp(`step ${step + 1}/${step + 1}`));
    assert.deepEqual(readJsonl(join(out, 'metrics.jsonl')).map((m) => m.step), Array.from({ length: step + 1 }, (_, i) => i + 1));
  });
});

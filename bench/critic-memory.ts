/**
 * `npm run bench:critic-memory`: what a PPO critic adds to a process's resident memory, for
 * the SmolLM2-135M shape (random weights), full fine-tuning and LoRA. Prints JSON.
 *
 * Each mode runs in its own child process: load the policy, then create the critic, then
 * run one critic step (which creates its AdamW moments) and one policy step. The resident
 * size (VmRSS) is read after each stage. A full critic copies the trunk (~0.5 GB in f32)
 * and keeps moments for all of it; a LoRA critic shares the policy's base tensors and adds
 * only its adapters, head and their moments.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { randomModel } from '../src/index.js';
import { SMOLLM2_135M_SHAPE } from './shapes.js';

const BATCH = 4;
const LENGTH = 128;

const residentMiB = () => Math.round((Number(readFileSync('/proc/self/statm', 'utf8').split(' ')[1]) * 4096) / 2 ** 20);

async function child(lora: boolean) {
  const stages: Record<string, number> = {};
  const model = await randomModel(SMOLLM2_135M_SHAPE, { seed: 1, lora: lora ? { rank: 16, alpha: 32 } : undefined });
  stages.policy_loaded = residentMiB();
  const critic = await model.createCritic({ seed: 1 });
  stages.critic_created = residentMiB();
  const vocab = model.config.vocabSize;
  const sequences = Array.from({ length: BATCH }, (_, s) => Int32Array.from({ length: LENGTH }, (_, i) => (i * 7919 + s * 104729) % vocab));
  const masks = sequences.map((seq) => Uint8Array.from(seq, (_, i) => (i >= 32 ? 1 : 0)));
  const values = await critic.values(sequences);
  const oldValues = values.map((v) => Float32Array.from([0, ...v]));
  const returns = oldValues.map((v) => v.map((x) => x + 0.5));
  await critic.trainStep({ sequences, masks, returns, oldValues }, { learningRate: 1e-5, vfClip: 0.2, microBatchSize: 1, activationCheckpointing: true });
  stages.after_critic_step = residentMiB();
  const oldLogprobs = sequences.map((seq) => Float32Array.from(seq, (_, i) => (i >= 32 ? -Math.log(vocab) : 0)));
  await model.trainStep({ sequences, masks, oldLogprobs, advantages: Float32Array.from({ length: BATCH }, (_, i) => (i % 2 ? 1 : -1)) }, { learningRate: 1e-5, microBatchSize: 1, activationCheckpointing: true });
  stages.after_policy_step = residentMiB();
  return {
    mode: lora ? 'lora r16 (attention q/k/v/o)' : 'full fine-tune',
    parameters: model.config.numParameters,
    critic: critic.info,
    resident_mib: stages,
    critic_adds_mib: stages.critic_created - stages.policy_loaded,
    peak_rss_mib: Math.round(process.resourceUsage().maxRSS / 1024),
  };
}

const arg = process.argv[2];
if (arg) {
  console.log(JSON.stringify(await child(arg === 'lora')));
} else {
  const results = ['lora', 'full'].map((mode) => {
    const out = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), mode], { encoding: 'utf8' });
    if (out.status !== 0) return { mode, error: `${out.signal ?? `exit ${out.status}`}: ${out.stderr.trim().split('\n').slice(-3).join(' ')}` };
    return JSON.parse(out.stdout.trim().split('\n').at(-1)!);
  });
  console.log(JSON.stringify({ threads: Number(process.env.RAYON_NUM_THREADS) || null, results }, null, 2));
}

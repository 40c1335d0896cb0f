/**
 * `npm run bench:backends`: the same GRPO step (2 prompts x 8 completions, 16 new tokens,
 * LoRA rank 8) on the tiny Llama, on the native engine and on the tinker backend against a
 * SkyRL server on loopback (CPU, JAX; scripts/tinker-server/setup.sh installs it), with
 * each backend's time per phase: sampling, forward, forward_backward, optim_step, saving
 * weights for the sampler, and the share of the step spent waiting on HTTP. The first
 * steps compile the server's kernels, so the figures are those of the last of STEPS steps.
 * Prints JSON.
 */
import { groupAdvantages, loadModel, TinkerBackend, type ComputeBackend } from '../src/index.js';
import { startTinkerServer, tinkerServerMissing } from '../test/helpers/tinker-server.js';

const PROMPTS = ['Where is my order?', 'I want a refund.'];
const GROUP = 8;
const NEW_TOKENS = 16;
const STEPS = 4;
const RANK = 8;

interface StepTimes {
  step_s: number;
  sample_s: number;
  train_s: number;
}

/** One GRPO step: sample the groups, score them, one training step. */
async function grpoStep(backend: ComputeBackend, step: number): Promise<StepTimes> {
  const started = performance.now();
  const prompts = PROMPTS.flatMap((p) => Array<Int32Array>(GROUP).fill(backend.tokenize(p)));
  const completions = await backend.generate(prompts, { maxNewTokens: NEW_TOKENS, temperature: 1, seed: 1000 * step, stopTokenIds: [] });
  const sampled = performance.now();
  const half = backend.config.vocabSize / 2;
  const rewards = completions.map((c) => c.tokens.filter((t) => t < half).length / c.tokens.length);
  const sequences = completions.map((c, i) => Int32Array.from([...prompts[i], ...c.tokens]));
  const masks = completions.map((c, i) => Uint8Array.from(sequences[i], (_, t) => (t >= prompts[i].length ? 1 : 0)));
  const oldLogprobs = completions.map((c, i) => Float32Array.from([...new Array<number>(prompts[i].length).fill(0), ...c.logprobs]));
  await backend.trainStep({ sequences, masks, oldLogprobs, advantages: groupAdvantages({ rewards, groupSize: GROUP }) }, { learningRate: 1e-2 });
  const done = performance.now();
  return { step_s: (done - started) / 1000, sample_s: (sampled - started) / 1000, train_s: (done - sampled) / 1000 };
}

const missing = tinkerServerMissing();
if (missing) {
  console.log(JSON.stringify({ error: missing }));
  process.exit(1);
}
const server = await startTinkerServer();
try {
  const native = await loadModel(server.baseModel, { lora: { rank: RANK, alpha: 32, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] } });
  let nativeLast: StepTimes | undefined;
  for (let s = 0; s < STEPS; s++) nativeLast = await grpoStep(native, s);

  const tinker = await TinkerBackend.create({ baseUrl: server.baseUrl, apiKey: 'tml-bench', baseModel: server.baseModel, loraRank: RANK });
  let tinkerLast: StepTimes | undefined;
  let phases = { ...tinker.timings };
  let http = tinker.httpSeconds;
  for (let s = 0; s < STEPS; s++) {
    const before = { ...tinker.timings };
    const httpBefore = tinker.httpSeconds;
    tinkerLast = await grpoStep(tinker, s);
    phases = Object.fromEntries(Object.entries(tinker.timings).map(([k, v]) => [k, v - before[k as keyof typeof before]])) as typeof phases;
    http = tinker.httpSeconds - httpBefore;
  }
  await tinker.close();
  console.log(
    JSON.stringify(
      {
        workload: { prompts: PROMPTS.length, group: GROUP, new_tokens: NEW_TOKENS, lora_rank: RANK, model: 'tiny llama (hidden 64, 2 layers)', steps_timed: `last of ${STEPS}` },
        native: nativeLast,
        tinker: {
          ...tinkerLast,
          // sample includes save_weights_for_sampler (the first sample after an update saves them).
          phases_s: { sample: phases.sample, save_weights_for_sampler: phases.saveForSampler, forward: phases.forward, forward_backward: phases.forwardBackward, optim_step: phases.optim },
          // Outside every server call: tokenizing, the loss and its gradient, packing requests.
          client_side_s: tinkerLast!.step_s - phases.sample - phases.forward - phases.forwardBackward - phases.optim,
          // Summed over requests; the sampling requests of a step run concurrently, so it can exceed the step.
          http_wait_summed_s: http,
        },
        tinker_over_native: tinkerLast!.step_s / nativeLast!.step_s,
      },
      null,
      2,
    ),
  );
} finally {
  await server.stop();
}

/**
 * The `tinker` compute backend: the policy is a LoRA model on a Tinker-compatible service;
 * tokenization, chat templates, rewards and the loss's arithmetic stay local.
 *
 * A training step is the two-pass custom-loss recipe, which covers every loss and
 * aggregation the native engine has: forward (log-probs under the current weights) ->
 * the project's own computePolicyLoss (dLoss/dlogp per token) -> forward_backward with
 * the server's `cross_entropy` and weights = -dLoss/dlogp (its gradient is then exactly
 * dLoss/dtheta) -> optim_step. Where the server's built-in loss computes exactly the
 * configured objective (builtin-loss.ts), one forward_backward does it.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { StatesetError } from '../../core/errors.js';
import { computePolicyLoss } from '../../algorithms/loss.js';
import type { PolicyLossMetrics } from '../../algorithms/loss-options.js';
import { inspectModel, Tokenizer } from '../../io/models.js';
import { loadModel, modelConfigOf } from '../../model/model.js';
import { nativeTrainBatch, nativeTrainConfig, type TrainBatch, type TrainStepConfig, type TrainStepMetrics } from '../../model/train.js';
import type { Completion, GenerateOptions, ModelConfig, ScoreOptions, ScoreResult } from '../../model/types.js';
import type { ComputeBackend } from '../compute-backend.js';
import { builtinLoss, serverDenominator } from './server-loss.js';
import { TinkerClient, type SampleSource } from './client.js';
import type { Datum } from './messages.js';
import { readTarGz } from './tar.js';
import { resolveTinkerOptions, type TinkerBackendOptions, type ResolvedTinkerOptions } from './options.js';

const STATE_FILE = 'tinker_state.json';

/** Time spent per primitive, for bench:backends. */
export interface TinkerTimings {
  sample: number;
  forward: number;
  forwardBackward: number;
  optim: number;
  saveForSampler: number;
}

export class TinkerBackend implements ComputeBackend {
  readonly kind = 'tinker';
  readonly trainsAdapters = true;
  readonly timings: TinkerTimings = { sample: 0, forward: 0, forwardBackward: 0, optim: 0, saveForSampler: 0 };
  private samplerPath: string | undefined;
  private saves = 0;
  private steps = 0;
  private skipped = 0;
  /** SkyRL loads a saved state only into a model that has served no request yet. */
  private used = false;

  private constructor(
    readonly options: ResolvedTinkerOptions,
    readonly config: ModelConfig,
    private readonly tokenizer: Tokenizer,
    private readonly client: TinkerClient,
    private modelId: string,
  ) {}

  /** Opens a session and creates a LoRA training model on `baseModel`. */
  static async create(input: TinkerBackendOptions): Promise<TinkerBackend> {
    const options = resolveTinkerOptions(input);
    const info = await inspectModel(options.tokenizer);
    const client = new TinkerClient({ baseUrl: options.baseUrl, apiKey: options.apiKey, ...options.http });
    const { models } = await client.capabilities();
    if (models.length && !models.includes(options.baseModel)) {
      client.close();
      throw new StatesetError('ERR_INVALID_CONFIG', `the server at ${options.baseUrl} does not serve ${options.baseModel}; it serves: ${models.join(', ')}. Set backend.baseModel to one of them.`);
    }
    const modelId = await client.createModel(options.baseModel, options.loraRank, options.seed);
    return new TinkerBackend(options, modelConfigOf(info), Tokenizer.load(options.tokenizer), client, modelId);
  }

  get source(): string {
    return this.options.tokenizer;
  }

  /** Seconds spent in HTTP (requests and future polls) so far. */
  get httpSeconds(): number {
    return this.client.http.stats.seconds;
  }

  tokenize(text: string): Int32Array {
    return Int32Array.from(this.tokenizer.encode(text));
  }

  detokenize(ids: Int32Array | number[]): string {
    return this.tokenizer.decode(ids);
  }

  /** Identical prompts (the members of a group) go to the server as one request with num_samples. */
  async generate(prompts: Int32Array[], options: GenerateOptions): Promise<Completion[]> {
    checkSampling(options);
    const started = performance.now();
    const source = await this.samplerSource();
    const byPrompt = new Map<string, number[]>();
    prompts.forEach((p, i) => {
      const key = p.join(',');
      byPrompt.set(key, [...(byPrompt.get(key) ?? []), i]);
    });
    const out = new Array<Completion>(prompts.length);
    await Promise.all(
      [...byPrompt.values()].map(async (rows) => {
        const answer = await this.client.sample(source, prompts[rows[0]], rows.length, {
          maxTokens: options.maxNewTokens,
          temperature: options.temperature ?? 1,
          topK: options.topK ?? 0,
          topP: options.topP ?? 1,
          // A group's members share one request, drawn with seeds seed + k on the server.
          seed: spreadSeed(options.seeds?.[rows[0]] ?? options.seed ?? 0),
          stopTokenIds: options.stopTokenIds ?? this.config.eosTokenIds,
        });
        if (answer.sequences.length !== rows.length) throw new StatesetError('ERR_BACKEND', `asked the server for ${rows.length} samples, got ${answer.sequences.length}.`);
        rows.forEach((row, k) => {
          const s = answer.sequences[k];
          out[row] = { tokens: s.tokens, logprobs: s.logprobs.length === s.tokens.length ? s.logprobs : new Float32Array(s.tokens.length).fill(NaN), finishReason: s.stopReason };
        });
      }),
    );
    this.timings.sample += (performance.now() - started) / 1000;
    return out;
  }

  /** Log-probs under the current training weights (a forward pass on the server). */
  async score(sequences: Int32Array[], options: ScoreOptions = {}): Promise<ScoreResult[]> {
    const start = options.start ?? 1;
    if ((options.temperature ?? 1) !== 1) throw temperatureError();
    if (options.entropy) throw new StatesetError('ERR_INVALID_ARGUMENT', 'the tinker backend does not return entropies: score without { entropy: true }.');
    const full = await this.logprobs(sequences);
    return full.map((lp) => ({ logprobs: lp.slice(Math.max(1, start)) }));
  }

  async trainStep(batch: TrainBatch, config: TrainStepConfig): Promise<TrainStepMetrics> {
    const input = nativeTrainBatch(batch);
    const step = nativeTrainConfig(config);
    if (step.temperature !== 1) throw temperatureError();
    const { sequences, masks } = input;
    const offsets = cumulative(sequences.map((s) => s.length));
    const mask = concat(masks);
    const oldLogprobs = input.oldLogprobs && concat(input.oldLogprobs);
    const refLogprobs = input.refLogprobs && concat(input.refLogprobs);
    const advantages = input.advantagesPerToken ? concat(input.advantagesPerToken) : input.advantagesPerSequence;
    const lossOf = (logprobs: Float32Array, returnGrad: boolean) =>
      computePolicyLoss({ logprobs, oldLogprobs, refLogprobs, advantages, mask, offsets, config: { ...step.loss, returnGrad } });
    const builtin = this.options.builtinLosses ? builtinLoss(step.loss) : undefined;

    let loss;
    if (builtin && oldLogprobs) {
      // At ratio 1 nothing is clipped, so dLoss/dlogp = -(aggregation weight x advantage) per token.
      const weighted = lossOf(oldLogprobs, true).grad!;
      const output = await this.forwardBackward(sequences, builtin.lossFn, weighted, input.oldLogprobs!, builtin.config);
      loss = lossOf(concat(output.outputs.map((o) => withFirstToken(o.logprobs))), false);
    } else {
      const current = await this.logprobs(sequences);
      loss = lossOf(concat(current), true);
      if (!Number.isFinite(loss.loss) || loss.grad!.some((g) => !Number.isFinite(g))) return this.skip(loss.metrics, loss.loss, step.learningRate);
      await this.forwardBackward(sequences, 'importance_sampling', loss.grad!, current);
    }
    if (!Number.isFinite(loss.loss)) throw new StatesetError('ERR_NON_FINITE', `the server's log-probs gave a non-finite loss (${loss.loss}) after its update was computed; check the learning rate and the model on the server.`);
    const started = performance.now();
    const { gradNorm } = await this.client.optimStep(this.modelId, { learningRate: step.learningRate, beta1: step.beta1, beta2: step.beta2, eps: step.eps, weightDecay: step.weightDecay });
    this.timings.optim += (performance.now() - started) / 1000;
    this.samplerPath = undefined;
    this.steps++;
    return { ...loss.metrics, loss: loss.loss, entropy: NaN, grad_norm: gradNorm ?? NaN, lr: step.learningRate, skipped: false, skipped_steps: this.skipped, step: this.steps };
  }

  /**
   * One forward_backward whose gradient is that of sum_t grad_t * logp_t (see server-loss.ts):
   * weight 1 on every target position, advantage -grad_t times the server's denominator.
   */
  private async forwardBackward(sequences: Int32Array[], lossFn: string, grad: Float32Array, logprobs: Float32Array[], lossFnConfig?: Record<string, number>) {
    let at = 0;
    const data: Datum[] = sequences.map((s, i) => {
      const positions = s.length - 1;
      const scale = -serverDenominator(this.options.serverReduction, positions, sequences.length);
      const datum = {
        tokens: s.subarray(0, -1),
        lossInputs: {
          target_tokens: s.subarray(1),
          weights: new Float32Array(positions).fill(1),
          logprobs: logprobs[i].subarray(1),
          advantages: Float32Array.from(grad.subarray(at + 1, at + s.length), (g) => g * scale),
        },
      };
      at += s.length;
      return datum;
    });
    const started = performance.now();
    const output = await this.client.forwardBackward(this.modelId, data, lossFn, { lossFnConfig });
    this.timings.forwardBackward += (performance.now() - started) / 1000;
    this.used = true;
    return output;
  }

  /** The trained adapter, downloaded into `dir` (PEFT layout; it names the local base model). */
  async saveAdapter(dir: string): Promise<void> {
    const name = `adapter-${++this.saves}`;
    await this.client.saveWeightsForSampler(this.modelId, name);
    const files = readTarGz(await this.client.downloadCheckpoint(this.modelId, name));
    mkdirSync(dir, { recursive: true });
    const config = [...files].find(([path]) => basename(path) === 'adapter_config.json')?.[1];
    const weights = [...files].find(([path]) => basename(path) === 'adapter_model.safetensors')?.[1];
    if (!config || !weights) throw new StatesetError('ERR_BACKEND', `the checkpoint archive of ${name} holds no PEFT adapter (files: ${[...files.keys()].join(', ')}).`);
    const parsed = JSON.parse(new TextDecoder().decode(config));
    // SkyRL writes target_modules: null (it adapts every linear layer); loaders need the list.
    const targets = parsed.target_modules ?? adaptedModules(weights);
    writeFileSync(join(dir, 'adapter_model.safetensors'), weights);
    writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify({ ...parsed, target_modules: targets, base_model_name_or_path: this.options.tokenizer }, null, 2) + '\n');
  }

  /** The trained model as a HuggingFace folder: the adapter is downloaded and merged locally. */
  async save(dir: string): Promise<void> {
    const adapter = mkdtempSync(join(tmpdir(), 'stateset-adapter-'));
    try {
      await this.saveAdapter(adapter);
      await (await loadModel(adapter)).save(dir);
    } finally {
      rmSync(adapter, { recursive: true, force: true });
    }
  }

  /** Saves weights and optimizer state on the server; `dir` records where. */
  async saveTrainingState(dir: string): Promise<void> {
    const path = await this.client.saveState(this.modelId, `state-${++this.saves}`);
    mkdirSync(dir, { recursive: true });
    const state = { baseUrl: this.options.baseUrl, baseModel: this.options.baseModel, path, steps: this.steps, skipped: this.skipped };
    writeFileSync(join(dir, STATE_FILE), JSON.stringify(state, null, 2) + '\n');
  }

  async loadTrainingState(dir: string): Promise<void> {
    let state: { baseModel: string; path: string; steps: number; skipped: number };
    try {
      state = JSON.parse(readFileSync(join(dir, STATE_FILE), 'utf8'));
    } catch (cause) {
      throw new StatesetError('ERR_INVALID_CHECKPOINT', `${dir} holds no tinker training state (${STATE_FILE}): it was not written by the tinker backend.`, { cause });
    }
    if (state.baseModel !== this.options.baseModel) {
      throw new StatesetError('ERR_INVALID_CHECKPOINT', `${dir} was trained on ${state.baseModel}, not ${this.options.baseModel}.`);
    }
    if (this.used) this.modelId = await this.client.createModel(this.options.baseModel, this.options.loraRank, this.options.seed);
    await this.client.loadState(this.modelId, state.path);
    this.used = true;
    this.steps = state.steps;
    this.skipped = state.skipped;
    this.samplerPath = undefined;
  }

  /** The base model's log-probs, through the sampler with prompt log-probs. */
  async reference(): Promise<Pick<ComputeBackend, 'score'>> {
    return {
      score: async (sequences, options = {}) => {
        if ((options.temperature ?? 1) !== 1) throw temperatureError();
        const start = Math.max(1, options.start ?? 1);
        return Promise.all(
          sequences.map(async (s) => {
            const answer = await this.client.sample({ baseModel: this.options.baseModel }, s, 1, { maxTokens: 1, temperature: 1, topK: 0, topP: 1, seed: 0, stopTokenIds: [] }, true);
            if (!answer.promptLogprobs) throw new StatesetError('ERR_BACKEND', 'the server did not return prompt log-probs.');
            return { logprobs: answer.promptLogprobs.slice(start) };
          }),
        );
      },
    };
  }

  async close(): Promise<void> {
    try {
      await this.client.unloadModel(this.modelId);
    } finally {
      this.client.close();
    }
  }

  /** Per sequence, log p(token t | tokens before t) at index t (0 at t = 0). */
  private async logprobs(sequences: Int32Array[]): Promise<Float32Array[]> {
    const data = sequences.map((s) => ({ tokens: s.subarray(0, -1), lossInputs: { target_tokens: s.subarray(1), weights: new Float32Array(s.length - 1) } }));
    const started = performance.now();
    const output = await this.client.forwardBackward(this.modelId, data, 'cross_entropy', { forwardOnly: true });
    this.timings.forward += (performance.now() - started) / 1000;
    this.used = true;
    return output.outputs.map((o) => withFirstToken(o.logprobs));
  }

  private async samplerSource(): Promise<SampleSource> {
    if (!this.samplerPath) {
      const started = performance.now();
      this.samplerPath = await this.client.saveWeightsForSampler(this.modelId, `sampler-${++this.saves}`);
      this.timings.saveForSampler += (performance.now() - started) / 1000;
      this.used = true;
    }
    return { modelPath: this.samplerPath };
  }

  private skip(metrics: PolicyLossMetrics, loss: number, lr: number): TrainStepMetrics {
    this.skipped++;
    return { ...metrics, loss, entropy: NaN, grad_norm: NaN, lr, skipped: true, skipped_steps: this.skipped, step: this.steps };
  }
}

/**
 * The server draws sample k of a request with seed + k, so requests with nearby seeds
 * (consecutive steps, say) would share most of their draws: hash the seed to spread them.
 */
function spreadSeed(seed: number): number {
  const high = Math.floor(seed / 2 ** 32) >>> 0;
  let x = (Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(high, 0x27d4eb2f)) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0xc2b2ae35) >>> 0;
  return (x ^ (x >>> 16)) & 0x3fffffff;
}

/** The module names (q_proj, down_proj, ...) that a PEFT safetensors file holds adapters for. */
function adaptedModules(safetensors: Uint8Array): string[] {
  const view = new DataView(safetensors.buffer, safetensors.byteOffset, safetensors.byteLength);
  const length = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(safetensors.subarray(8, 8 + length))) as Record<string, unknown>;
  const modules = Object.keys(header).map((name) => /\.([^.]+)\.lora_[AB]\.weight$/.exec(name)?.[1]).filter((m): m is string => m !== undefined);
  return [...new Set(modules)].sort();
}

function checkSampling(options: GenerateOptions): void {
  if ((options.minP ?? 0) > 0) throw new StatesetError('ERR_INVALID_CONFIG', 'the tinker backend cannot sample with minP: set generation.minP to 0.');
  if ((options.repetitionPenalty ?? 1) !== 1) throw new StatesetError('ERR_INVALID_CONFIG', 'the tinker backend cannot sample with a repetition penalty: set repetitionPenalty to 1.');
}

function temperatureError(): StatesetError {
  return new StatesetError('ERR_INVALID_CONFIG', 'the tinker backend computes log-probs at temperature 1 only: train with generation.temperature 1.');
}

/** The server's per-position log-probs (position i predicts token i + 1), shifted to token index. */
function withFirstToken(logprobs: Float32Array): Float32Array {
  const out = new Float32Array(logprobs.length + 1);
  out.set(logprobs, 1);
  return out;
}

function cumulative(lengths: number[]): Int32Array {
  const out = new Int32Array(lengths.length + 1);
  lengths.forEach((n, i) => (out[i + 1] = out[i] + n));
  return out;
}

function concat<T extends Float32Array | Uint8Array>(arrays: T[]): T {
  const total = arrays.reduce((n, a) => n + a.length, 0);
  const out = new (arrays[0]?.constructor as { new (n: number): T } ?? Float32Array)(total) as T;
  let at = 0;
  for (const a of arrays) {
    out.set(a as never, at);
    at += a.length;
  }
  return out;
}

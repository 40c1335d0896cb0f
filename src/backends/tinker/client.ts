/**
 * The Tinker HTTP API, route by route, as the open servers speak it (SkyRL 0.4, which
 * pairs with the `tinker` SDK 0.25): JSON for most routes; protobuf for forward_backward
 * requests and for forward / forward_backward / sample results. A session is kept alive
 * by a heartbeat every 10 s while the client is open.
 */
import { StatesetError } from '../../core/errors.js';
import { TinkerHttp, type Answer, type TinkerHttpOptions } from './http.js';
import { decodeForwardBackward, decodeSample, encodeForwardBackward, type Datum, type ForwardBackwardOutput, type SampleResponse } from './messages.js';

export const TINKER_SDK_VERSION = '0.25.0';
const HEARTBEAT_MS = 10_000;

export interface AdamParams {
  learningRate: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export interface SamplingParams {
  maxTokens: number;
  temperature: number;
  topK: number;
  topP: number;
  seed: number;
  stopTokenIds: number[];
}

/** Where a sample comes from: saved sampler weights, or the base model itself. */
export type SampleSource = { modelPath: string } | { baseModel: string };

export class TinkerClient {
  readonly http: TinkerHttp;
  private sessionId: string | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  /** Per model: the next request sequence number (the server orders a model's requests by it). */
  private readonly seq = new Map<string, number>();

  constructor(readonly options: TinkerHttpOptions) {
    this.http = new TinkerHttp(options);
  }

  /** Opens a session (and its heartbeat) the first time it is needed. */
  async session(): Promise<string> {
    if (this.sessionId) return this.sessionId;
    const created = await this.http.post('/api/v1/create_session', { json: { tags: ['stateset-agents'], sdk_version: TINKER_SDK_VERSION } });
    this.sessionId = String(created.session_id);
    this.heartbeat = setInterval(() => {
      this.http.post('/api/v1/session_heartbeat', { json: { session_id: this.sessionId } }).catch(() => {
        // A missed heartbeat is retried by the next one; a dead server shows up in the next real call.
      });
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
    return this.sessionId;
  }

  async capabilities(): Promise<{ models: string[] }> {
    const answer = await this.http.get('/api/v1/get_server_capabilities');
    const models = 'json' in answer ? (answer.json?.supported_models ?? []).map((m: { model_name: string }) => m.model_name) : [];
    return { models };
  }

  /** A LoRA training model on `baseModel`; its id. */
  async createModel(baseModel: string, rank: number, seed: number): Promise<string> {
    const session = await this.session();
    const submitted = await this.http.post('/api/v1/create_model', { json: { session_id: session, base_model: baseModel, lora_config: { rank, seed } } });
    await this.http.future(String(submitted.request_id), `create_model(${baseModel})`);
    return String(submitted.model_id);
  }

  async unloadModel(modelId: string): Promise<void> {
    await this.http.call('/api/v1/unload_model', { json: { model_id: modelId, session_id: this.sessionId } });
  }

  /** forward (forwardOnly) or forward_backward with one of the server's losses. */
  async forwardBackward(modelId: string, data: Datum[], lossFn: string, options: { forwardOnly?: boolean; lossFnConfig?: Record<string, number> } = {}): Promise<ForwardBackwardOutput> {
    const body = encodeForwardBackward({ modelId, seqId: this.nextSeq(modelId), data, lossFn, lossFnConfig: options.lossFnConfig, forwardOnly: options.forwardOnly ?? false });
    // SkyRL 0.4 has no /forward route: a forward is a forward_backward with forward_only set.
    const answer = await this.http.call('/api/v1/forward_backward', { protobuf: body });
    return decodeForwardBackward(protobufOf(answer, 'forward_backward'));
  }

  async optimStep(modelId: string, adam: AdamParams): Promise<{ gradNorm?: number }> {
    const answer = await this.http.call('/api/v1/optim_step', {
      json: {
        model_id: modelId,
        seq_id: this.nextSeq(modelId),
        adam_params: { learning_rate: adam.learningRate, beta1: adam.beta1, beta2: adam.beta2, eps: adam.eps, weight_decay: adam.weightDecay },
      },
    });
    // Servers name it differently (SkyRL 0.4: 'skyrl.ai/grad_norm'); any key ending in grad_norm is it.
    const metrics: Record<string, unknown> = ('json' in answer ? answer.json?.metrics : undefined) ?? {};
    const gradNorm = Object.entries(metrics).find(([key]) => /(^|[/:])grad_norm(:mean)?$/.test(key))?.[1];
    return typeof gradNorm === 'number' ? { gradNorm } : {};
  }

  /** Saves the current weights for sampling; the `tinker://` path to sample from. */
  async saveWeightsForSampler(modelId: string, name: string): Promise<string> {
    const answer = await this.http.call('/api/v1/save_weights_for_sampler', { json: { model_id: modelId, path: name, seq_id: this.nextSeq(modelId) } });
    return pathOf(answer, 'save_weights_for_sampler');
  }

  /** `numSamples` completions of one prompt; with `promptLogprobs`, the prompt's log-probs too. */
  async sample(source: SampleSource, prompt: Int32Array, numSamples: number, params: SamplingParams, promptLogprobs = false): Promise<SampleResponse> {
    const answer = await this.http.call('/api/v1/asample', {
      json: {
        num_samples: numSamples,
        prompt: { chunks: [{ tokens: Array.from(prompt) }] },
        sampling_params: {
          max_tokens: params.maxTokens,
          temperature: params.temperature,
          top_k: params.topK > 0 ? params.topK : -1,
          top_p: params.topP,
          seed: params.seed,
          stop: params.stopTokenIds,
        },
        ...('modelPath' in source ? { model_path: source.modelPath } : { base_model: source.baseModel }),
        ...(promptLogprobs ? { prompt_logprobs: true } : {}),
      },
    });
    return 'protobuf' in answer ? decodeSample(answer.protobuf) : sampleFromJson(answer.json);
  }

  /** Saves the full training state (weights and optimizer); its `tinker://` path. */
  async saveState(modelId: string, name: string): Promise<string> {
    const answer = await this.http.call('/api/v1/save_weights', { json: { model_id: modelId, path: name, seq_id: this.nextSeq(modelId) } });
    return pathOf(answer, 'save_weights');
  }

  /** Loads a saved training state into a model (SkyRL: only one that has served no request yet). */
  async loadState(modelId: string, path: string): Promise<void> {
    await this.http.call('/api/v1/load_weights', { json: { model_id: modelId, path, seq_id: this.nextSeq(modelId) } });
  }

  /** The tar.gz of a saved checkpoint's PEFT adapter. */
  async downloadCheckpoint(modelId: string, checkpoint: string): Promise<Uint8Array> {
    const answer = await this.http.get(`/api/v1/training_runs/${encodeURIComponent(modelId)}/checkpoints/${encodeURIComponent(checkpoint)}/archive`);
    if ('protobuf' in answer) return answer.protobuf;
    throw new StatesetError('ERR_BACKEND', `the checkpoint archive of ${modelId}/${checkpoint} came back as JSON, not a tar.gz: ${JSON.stringify(answer.json).slice(0, 200)}`);
  }

  close(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  private nextSeq(modelId: string): number {
    const next = (this.seq.get(modelId) ?? 0) + 1;
    this.seq.set(modelId, next);
    return next;
  }
}

function protobufOf(answer: Answer, what: string): Uint8Array {
  if ('protobuf' in answer) return answer.protobuf;
  throw new StatesetError('ERR_BACKEND', `${what} answered JSON (${JSON.stringify(answer.json).slice(0, 200)}) where this client expects protobuf: the server speaks another protocol version (tested: SkyRL 0.4 / tinker SDK 0.25).`);
}

function pathOf(answer: Answer, what: string): string {
  const path = 'json' in answer ? answer.json?.path : undefined;
  if (typeof path !== 'string') throw new StatesetError('ERR_BACKEND', `${what} answered without a path.`);
  return path;
}

/** A JSON sample answer (servers that do not use protobuf for it). */
function sampleFromJson(json: any): SampleResponse {
  const sequences = (json?.sequences ?? []).map((s: any) => ({
    tokens: Int32Array.from(s.tokens ?? []),
    logprobs: Float32Array.from(s.logprobs ?? []),
    stopReason: s.stop_reason === 'length' ? 'length' : 'stop',
  }));
  const prompt = json?.prompt_logprobs;
  return { sequences, ...(Array.isArray(prompt) ? { promptLogprobs: Float32Array.from(prompt, (x: number | null) => x ?? NaN) } : {}) };
}

/**
 * Weights & Biases over its HTTP API: a GraphQL `upsertBucket` creates the run, then metric
 * rows stream to the run's `file_stream` endpoint as lines of wandb-history.jsonl, with the
 * latest values as wandb-summary.json; `close` marks the run complete.
 *
 * The official `@wandb/sdk` npm package was measured and not used: an HTTP error on run
 * creation is thrown from its internal message listener and crashes Node past any
 * try/catch; its retries re-await the same failed request (about 20 minutes of waiting on
 * a 5xx); and it installs process-wide SIGINT/SIGTERM handlers. Here every failure is an
 * ordinary error that `SafeTracker` can turn into one warning.
 *
 * Rows are buffered and sent in the background every `flushIntervalMs`, so training never
 * waits on the network; a failed send is raised on the next call (or on `close`).
 */
import { randomBytes } from 'node:crypto';
import { StatesetError } from '../core/errors.js';
import type { Metrics, Tracker } from './tracker.js';

export interface WandbOptions {
  project: string;
  /** The team or user; defaults to the key's own entity. */
  entity?: string;
  /** Display name of the run. */
  name?: string;
  /** Hyperparameters shown with the run. */
  config?: Record<string, unknown>;
  /** Defaults to WANDB_API_KEY. */
  apiKey?: string;
  /** Defaults to WANDB_BASE_URL, then https://api.wandb.ai. */
  baseUrl?: string;
  /** Defaults to a random 8-character id. */
  runId?: string;
  flushIntervalMs?: number;
  requestTimeoutMs?: number;
  /** Extra attempts after a network error or a 5xx reply, waiting retryDelayMs × attempt. */
  retries?: number;
  retryDelayMs?: number;
}

const UPSERT_RUN = `mutation UpsertBucket($name: String, $project: String, $entity: String, $displayName: String, $config: JSONString) {
  upsertBucket(input: { name: $name, modelName: $project, entityName: $entity, displayName: $displayName, config: $config }) {
    bucket { name project { name entity { name } } }
  }
}`;
const VIEWER = 'query Viewer { viewer { entity } }';

interface RunPath {
  entity: string;
  project: string;
  run: string;
}

class TransientError extends Error {}

function newRunId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return Array.from(randomBytes(8), (b) => alphabet[b % alphabet.length]).join('');
}

export class WandbTracker implements Tracker {
  readonly runId: string;
  private readonly apiKey: string;
  private readonly baseUrl: string;
  private readonly startTime = Date.now() / 1000;
  private runPath: Promise<RunPath> | undefined;
  private pending: string[] = [];
  private sentLines = 0;
  private summary: Record<string, unknown> = {};
  private sending: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private failure: unknown;

  constructor(private readonly options: WandbOptions) {
    const apiKey = options.apiKey ?? process.env.WANDB_API_KEY;
    if (!apiKey) {
      throw new StatesetError('ERR_TRACKER', 'W&B tracking needs an API key: set WANDB_API_KEY (from https://wandb.ai/authorize) or pass apiKey.');
    }
    if (!options.project) throw new StatesetError('ERR_TRACKER', 'W&B tracking needs a project name: set wandb.project.');
    this.apiKey = apiKey;
    this.baseUrl = (options.baseUrl ?? process.env.WANDB_BASE_URL ?? 'https://api.wandb.ai').replace(/\/+$/, '');
    this.runId = options.runId ?? newRunId();
  }

  logMetrics(step: number, metrics: Metrics): void {
    this.record(step, 'train', metrics);
  }

  logEval(step: number, metrics: Metrics): void {
    this.record(step, 'eval', metrics);
  }

  /** Sends the buffered rows now; rejects if this or an earlier send failed. */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.enqueueSend();
    await this.sending;
    this.throwIfFailed();
  }

  async close(): Promise<void> {
    await this.flush();
    const path = await this.startRun();
    await this.post(`/files/${path.entity}/${path.project}/${path.run}/file_stream`, { complete: true, exitcode: 0 });
  }

  private record(step: number, prefix: string, metrics: Metrics): void {
    this.throwIfFailed();
    const row: Record<string, unknown> = { _step: step, _runtime: Date.now() / 1000 - this.startTime, _timestamp: Date.now() / 1000 };
    for (const [name, value] of Object.entries(metrics)) row[`${prefix}/${name}`] = value;
    this.pending.push(JSON.stringify(row));
    this.summary = { ...this.summary, ...row };
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.enqueueSend();
    }, this.options.flushIntervalMs ?? 5000).unref();
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  /** Queues a send; sends run one after another, so history offsets never interleave. */
  private enqueueSend(): void {
    this.sending = this.sending.then(async () => {
      if (this.failure !== undefined || this.pending.length === 0) return;
      try {
        await this.sendPending();
      } catch (err) {
        this.failure = err;
      }
    });
  }

  private async sendPending(): Promise<void> {
    const path = await this.startRun();
    const lines = this.pending;
    await this.post(`/files/${path.entity}/${path.project}/${path.run}/file_stream`, {
      files: {
        'wandb-history.jsonl': { offset: this.sentLines, content: lines },
        'wandb-summary.json': { offset: 0, content: [JSON.stringify(this.summary)] },
      },
    });
    this.pending = this.pending.slice(lines.length);
    this.sentLines += lines.length;
  }

  private startRun(): Promise<RunPath> {
    this.runPath ??= (async () => {
      const entity = this.options.entity ?? (await this.graphql<{ viewer?: { entity?: string } }>(VIEWER, {})).viewer?.entity;
      if (!entity) throw new StatesetError('ERR_TRACKER', 'W&B did not name an entity for this API key; set wandb.entity.');
      // W&B stores each config entry as { value, desc }.
      const config = Object.fromEntries(Object.entries(this.options.config ?? {}).map(([k, value]) => [k, { value, desc: null }]));
      const data = await this.graphql<{ upsertBucket?: { bucket?: { name?: string; project?: { name?: string; entity?: { name?: string } } } } }>(UPSERT_RUN, {
        name: this.runId,
        project: this.options.project,
        entity,
        displayName: this.options.name,
        config: JSON.stringify(config),
      });
      const bucket = data.upsertBucket?.bucket;
      if (!bucket?.name) throw new StatesetError('ERR_TRACKER', 'W&B did not create the run (upsertBucket returned no run).');
      return { entity: bucket.project?.entity?.name ?? entity, project: bucket.project?.name ?? this.options.project, run: bucket.name };
    })();
    return this.runPath;
  }

  private async graphql<T>(query: string, variables: Record<string, unknown>): Promise<T> {
    const reply = (await this.post('/graphql', { query, variables })) as { data?: T; errors?: { message: string }[] };
    if (reply.errors?.length) throw new StatesetError('ERR_TRACKER', `W&B rejected the request: ${reply.errors.map((e) => e.message).join('; ')}`);
    return reply.data ?? ({} as T);
  }

  private async post(path: string, body: unknown): Promise<unknown> {
    const retries = this.options.retries ?? 2;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.postOnce(path, body);
      } catch (err) {
        if (!(err instanceof TransientError) || attempt >= retries) {
          throw err instanceof StatesetError ? err : new StatesetError('ERR_TRACKER', (err as Error).message, { cause: err });
        }
        await new Promise((resolve) => setTimeout(resolve, (this.options.retryDelayMs ?? 1000) * (attempt + 1)));
      }
    }
  }

  private async postOnce(path: string, body: unknown): Promise<unknown> {
    const url = this.baseUrl + path;
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Basic ${Buffer.from(`api:${this.apiKey}`).toString('base64')}`,
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.requestTimeoutMs ?? 15_000),
      });
    } catch (err) {
      const cause = (err as Error & { cause?: Error }).cause?.message ?? (err as Error).message;
      throw new TransientError(`could not reach W&B at ${url}: ${cause}`);
    }
    const text = await response.text();
    if (response.status >= 500) throw new TransientError(`W&B answered ${response.status} at ${url}: ${text.slice(0, 200)}`);
    if (!response.ok) {
      const hint = response.status === 401 ? ' (check WANDB_API_KEY)' : '';
      throw new StatesetError('ERR_TRACKER', `W&B answered ${response.status} at ${url}${hint}: ${text.slice(0, 200)}`);
    }
    return text ? JSON.parse(text) : {};
  }
}

/**
 * HTTP to a Tinker-compatible server: every request has a timeout and bounded retries
 * with exponential backoff (connection failures, 429 and 5xx); a submitted operation's
 * result is a future, polled through retrieve_future as the API specifies (the server
 * holds each poll up to ~5 minutes; 408 or `{type: "try_again"}` means ask again).
 * Failures become StatesetErrors that say what to check.
 */
import { StatesetError } from '../../core/errors.js';

export interface TinkerHttpOptions {
  baseUrl: string;
  apiKey: string;
  /** One request, in ms. Default 60 s (a poll is answered within the server's own hold). */
  requestTimeoutMs?: number;
  /** Retries of a request that failed transiently. Default 4. */
  retries?: number;
  /** First backoff, doubled per retry. Default 250 ms. */
  backoffMs?: number;
  /** How long a future may take before the client gives up. Default 30 minutes. */
  futureTimeoutMs?: number;
}

export type Body = { json: unknown } | { protobuf: Uint8Array } | undefined;

/** A finished response: JSON, or the raw bytes of a protobuf answer. */
export type Answer = { json: any } | { protobuf: Uint8Array };

/** Numbers a caller can read after the fact: time spent waiting on HTTP. */
export interface HttpStats {
  requests: number;
  seconds: number;
}

export class TinkerHttp {
  readonly stats: HttpStats = { requests: 0, seconds: 0 };
  private readonly requestTimeoutMs: number;
  private readonly retries: number;
  private readonly backoffMs: number;
  private readonly futureTimeoutMs: number;

  constructor(private readonly options: TinkerHttpOptions) {
    this.requestTimeoutMs = options.requestTimeoutMs ?? 60_000;
    this.retries = options.retries ?? 4;
    this.backoffMs = options.backoffMs ?? 250;
    this.futureTimeoutMs = options.futureTimeoutMs ?? 30 * 60_000;
  }

  get(path: string): Promise<Answer> {
    return this.send('GET', path, undefined);
  }

  async post(path: string, body: Body): Promise<any> {
    const answer = await this.send('POST', path, body);
    if (!('json' in answer)) throw new StatesetError('ERR_BACKEND', `${path} answered protobuf where JSON was expected.`);
    return answer.json;
  }

  /** Submits an operation and waits for its result. */
  async call(path: string, body: Body): Promise<Answer> {
    const submitted = await this.post(path, body);
    const requestId = submitted?.request_id;
    if (typeof requestId !== 'string' && typeof requestId !== 'number') {
      throw new StatesetError('ERR_BACKEND', `${path} answered without a request_id (${JSON.stringify(submitted).slice(0, 200)}): is ${this.options.baseUrl} a Tinker-compatible server?`);
    }
    return this.future(String(requestId), path);
  }

  /** Polls a future until it completes, fails, or `futureTimeoutMs` passes. */
  async future(requestId: string, what: string): Promise<Answer> {
    const deadline = Date.now() + this.futureTimeoutMs;
    while (Date.now() < deadline) {
      const answer = await this.send('POST', '/api/v1/retrieve_future', { json: { request_id: requestId } }, { accept408: true, timeoutMs: Math.max(1, Math.min(this.requestTimeoutMs, deadline - Date.now())) });
      if (answer === PENDING) continue;
      if ('json' in answer && answer.json?.type === 'try_again') continue;
      if ('json' in answer && answer.json?.type === 'RequestFailedResponse') {
        throw new StatesetError('ERR_BACKEND_REQUEST', `${what} failed on the server: ${answer.json.error ?? JSON.stringify(answer.json)}`);
      }
      return answer;
    }
    throw new StatesetError('ERR_BACKEND_TIMEOUT', `${what} (future ${requestId}) did not complete within ${Math.round(this.futureTimeoutMs / 1000)} s: check that the server at ${this.options.baseUrl} is working (its logs), or raise futureTimeoutMs.`);
  }

  private async send(method: string, path: string, body: Body, poll?: { accept408: boolean; timeoutMs: number }): Promise<Answer | typeof PENDING> {
    const url = new URL(path, this.options.baseUrl).toString();
    const headers: Record<string, string> = { 'X-API-Key': this.options.apiKey, Accept: 'application/json, application/x-protobuf' };
    let payload: Uint8Array | string | undefined;
    if (body && 'json' in body) {
      headers['Content-Type'] = 'application/json';
      payload = JSON.stringify(body.json);
    } else if (body) {
      headers['Content-Type'] = 'application/x-protobuf';
      payload = body.protobuf;
    }
    for (let attempt = 0; ; attempt++) {
      const started = performance.now();
      let response: Response;
      try {
        response = await fetch(url, { method, headers, body: payload, signal: AbortSignal.timeout(poll?.timeoutMs ?? this.requestTimeoutMs), redirect: 'follow' });
      } catch (cause) {
        this.count(started);
        const timedOut = (cause as Error)?.name === 'TimeoutError';
        // A long-poll that the client cut short is just asked again.
        if (timedOut && poll) return PENDING;
        if (attempt < this.retries) {
          await sleep(this.backoffMs * 2 ** attempt);
          continue;
        }
        throw new StatesetError(
          timedOut ? 'ERR_BACKEND_TIMEOUT' : 'ERR_BACKEND_UNREACHABLE',
          `${method} ${url} ${timedOut ? `timed out after ${this.requestTimeoutMs} ms` : `failed: ${(cause as Error)?.cause ? String(((cause as Error).cause as Error).message ?? (cause as Error).cause) : (cause as Error)?.message}`} (${attempt + 1} tries): check backend.baseUrl and that the server is running.`,
          { cause },
        );
      }
      const bytes = new Uint8Array(await response.arrayBuffer());
      this.count(started);
      if (response.status === 408 && poll?.accept408) return PENDING;
      if ((response.status === 429 || response.status >= 500) && attempt < this.retries) {
        await sleep(this.backoffMs * 2 ** attempt);
        continue;
      }
      if (!response.ok) throw httpError(response.status, method, url, bytes);
      const type = response.headers.get('content-type') ?? '';
      if (type.includes('protobuf') || type.includes('octet-stream')) return { protobuf: bytes };
      try {
        return { json: bytes.length ? JSON.parse(new TextDecoder().decode(bytes)) : null };
      } catch {
        throw new StatesetError('ERR_BACKEND', `${method} ${url} answered ${response.status} with a body that is not JSON: is backend.baseUrl a Tinker-compatible server?`);
      }
    }
  }

  private count(started: number): void {
    this.stats.requests++;
    this.stats.seconds += (performance.now() - started) / 1000;
  }
}

const PENDING = { json: { type: 'pending' } } as const;

function httpError(status: number, method: string, url: string, bytes: Uint8Array): StatesetError {
  const text = new TextDecoder().decode(bytes);
  let detail = text.slice(0, 500);
  try {
    const parsed = JSON.parse(text);
    detail = typeof parsed.detail === 'string' ? parsed.detail : JSON.stringify(parsed.detail ?? parsed).slice(0, 500);
  } catch {
    // not JSON: keep the text
  }
  if (status === 401 || status === 403) {
    return new StatesetError('ERR_BACKEND_AUTH', `${method} ${url} was refused (${status}: ${detail}): check backend.apiKey / TINKER_API_KEY.`);
  }
  if (status === 404) return new StatesetError('ERR_BACKEND_REQUEST', `${method} ${url}: not found (${detail}): check backend.baseUrl (a Tinker-compatible server serves /api/v1/...) and the model id.`);
  return new StatesetError('ERR_BACKEND_REQUEST', `${method} ${url} failed with ${status}: ${detail}`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

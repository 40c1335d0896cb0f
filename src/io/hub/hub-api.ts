/**
 * The three Hub requests a model download needs, made through @huggingface/hub: the
 * revision's commit and file list (model info), each file's blob id and size (paths-info),
 * and a file's bytes from an offset (resolve, following the Hub's redirects to its CDN).
 * Failures become StatesetErrors that say which repo, revision or file, and what to do.
 */
import { downloadFile, HubApiError, modelInfo, pathsInfo } from '@huggingface/hub';
import { StatesetError } from '../../core/errors.js';
import type { HubSettings } from './settings.js';

export interface RepoRevision {
  /** The commit the revision points at (the snapshot folder's name). */
  commit: string;
  /** Every file of the repo at that commit. */
  files: string[];
  gated: boolean;
}

export interface RemoteFile {
  /** The blob's name in the cache: the LFS sha256, else the git blob id (what Python uses). */
  etag: string;
  size: number;
  lfs: boolean;
}

/** What one request of a Hub call answered when it failed (the library keeps no headers). */
interface Failure {
  status: number;
  /** X-Error-Code: RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo. */
  code: string | null;
}

export interface HubTarget {
  settings: HubSettings;
  repo: string;
  revision: string;
}

export async function repoRevision(target: HubTarget): Promise<RepoRevision> {
  const { settings, repo, revision } = target;
  const info = await hubCall(target, undefined, (fetch) =>
    modelInfo({ name: repo, revision, hubUrl: settings.endpoint, accessToken: settings.token, fetch, additionalFields: ['sha', 'filePaths'] }),
  );
  if (typeof info.sha !== 'string' || !Array.isArray(info.filePaths)) {
    throw new StatesetError('ERR_HUB_DOWNLOAD', `${settings.endpoint} answered the model info of ${repo} without its commit or file list; is HF_ENDPOINT a HuggingFace Hub (or a mirror of one)?`);
  }
  return { commit: info.sha, files: info.filePaths, gated: Boolean(info.gated) };
}

export async function remoteFiles(target: HubTarget, commit: string, paths: string[], gated: boolean): Promise<Map<string, RemoteFile>> {
  const { settings, repo } = target;
  const infos = await hubCall(target, { gated }, (fetch) =>
    pathsInfo({ repo, revision: commit, paths, hubUrl: settings.endpoint, accessToken: settings.token, fetch }),
  );
  const files = new Map<string, RemoteFile>();
  for (const info of infos) {
    const etag = info.lfs?.oid ?? info.oid;
    if (info.type === 'file' && etag) files.set(info.path, { etag, size: info.lfs?.size ?? info.size, lfs: info.lfs !== undefined });
  }
  const missing = paths.filter((p) => !files.has(p));
  if (missing.length > 0) throw new StatesetError('ERR_HUB_NOT_FOUND', `${repo} at commit ${commit} has no file ${missing.join(', ')}.`);
  return files;
}

/** The bytes of `path` from byte `from` on (an HTTP range, so an interrupted download resumes). */
export async function openDownload(target: HubTarget, commit: string, path: string, from: number, gated: boolean): Promise<ReadableStream<Uint8Array>> {
  const { settings, repo } = target;
  const blob = await hubCall(target, { gated, path }, (fetch) =>
    downloadFile({ repo, path, revision: commit, hubUrl: settings.endpoint, accessToken: settings.token, fetch }),
  );
  if (!blob) throw new StatesetError('ERR_HUB_NOT_FOUND', `${repo} at commit ${commit} has no file ${path}.`);
  return blob.slice(from).stream() as ReadableStream<Uint8Array>;
}

/**
 * Runs one library call with a fetch that remembers the failing response's status and
 * X-Error-Code, and turns what went wrong into a StatesetError.
 */
async function hubCall<T>(
  target: HubTarget,
  context: { gated: boolean; path?: string } | undefined,
  call: (fetch: typeof globalThis.fetch) => Promise<T>,
): Promise<T> {
  let failure: Failure | undefined;
  const tracked: typeof globalThis.fetch = async (input, init) => {
    const response = await globalThis.fetch(input, init);
    if (!response.ok) failure = { status: response.status, code: response.headers.get('x-error-code') };
    return response;
  };
  try {
    return await call(tracked);
  } catch (err) {
    throw hubError(err, failure, target, context);
  }
}

function hubError(err: unknown, failure: Failure | undefined, target: HubTarget, context: { gated: boolean; path?: string } | undefined): StatesetError {
  const { settings, repo, revision } = target;
  if (err instanceof StatesetError) return err;
  if (err instanceof TypeError && /access token/i.test(err.message)) {
    return new StatesetError('ERR_INVALID_CONFIG', `HF_TOKEN is not a HuggingFace token: ${err.message}.`, { cause: err });
  }
  if (isUnreachable(err)) {
    return new StatesetError('ERR_HUB_OFFLINE', `${repo} is not a local path here, and cannot reach the Hub at ${settings.endpoint} for it: ${describeNetworkError(err)}. Check the path, the connection (or HF_ENDPOINT), or set HF_HUB_OFFLINE=1 to use the cache only.`, { cause: err });
  }
  if (!(err instanceof HubApiError) || failure === undefined) {
    return new StatesetError('ERR_HUB_DOWNLOAD', `the Hub at ${settings.endpoint} gave an answer for ${repo} that could not be used: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  }
  const page = `${settings.endpoint}/${repo}`;
  if (failure.code === 'GatedRepo' || (context?.gated && (failure.status === 401 || failure.status === 403))) {
    const what = settings.token
      ? `the token in HF_TOKEN has no access to it: accept the model's conditions at ${page} with that account`
      : `accept the model's conditions at ${page}, then set HF_TOKEN to an access token of that account (or run \`hf auth login\`)`;
    return new StatesetError('ERR_HUB_GATED', `${repo} is a gated model; ${what}.`, { cause: err });
  }
  if (failure.code === 'RevisionNotFound') {
    return new StatesetError('ERR_HUB_NOT_FOUND', `${repo} has no revision '${revision}' (a branch, tag or commit) on ${settings.endpoint}.`, { cause: err });
  }
  if (failure.code === 'EntryNotFound' && context?.path) {
    return new StatesetError('ERR_HUB_NOT_FOUND', `${repo} has no file ${context.path} at revision '${revision}'.`, { cause: err });
  }
  if (failure.code === 'RepoNotFound' || failure.status === 404 || failure.status === 401) {
    const hint = settings.token ? 'check the spelling (owner/name)' : 'check the spelling (owner/name); if it is private, set HF_TOKEN to an access token that can read it';
    return new StatesetError('ERR_HUB_NOT_FOUND', `${repo} is neither a local path nor a model repo on ${settings.endpoint}: ${hint}.`, { cause: err });
  }
  if (failure.status === 403) {
    return new StatesetError('ERR_HUB_GATED', `the Hub refused access to ${repo} (403); check that HF_TOKEN can read it.`, { cause: err });
  }
  return new StatesetError('ERR_HUB_DOWNLOAD', `the Hub at ${settings.endpoint} answered ${failure.status} for ${repo}${context?.path ? `/${context.path}` : ''}: ${err.message}`, { cause: err });
}

/** fetch's own failure (undici): no answer at all, as opposed to an HTTP error status. */
export function isUnreachable(err: unknown): boolean {
  return err instanceof TypeError && err.message === 'fetch failed';
}

function describeNetworkError(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  return e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err);
}

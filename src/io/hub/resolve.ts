/**
 * Where a model reference becomes a path on disk. A local folder or file is used as it is
 * (a local path always wins over a Hub id of the same spelling); an `owner/name` Hub id is
 * downloaded, as transformers would, into the Hub cache that Python's huggingface_hub shares
 * (HF_HUB_CACHE / HF_HOME), and the snapshot folder (or the chosen .gguf file in it) is
 * returned. Only the files the engine reads are fetched (see files.ts).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { StatesetError } from '../../core/errors.js';
import { blobPath, cachedCommit, isCommitHash, linkIntoSnapshot, partialSize, repoCacheDir, snapshotDir, snapshotFiles, writeRef } from './cache.js';
import { downloadBlob, ensureSpace, incompletePath } from './download.js';
import { filesToFetch, SAFETENSORS_INDEX, shardsOf, type RepoRef } from './files.js';
import { remoteFiles, repoRevision, type HubTarget, type RepoRevision } from './hub-api.js';
import { downloadProgress } from './progress.js';
import { hubSettings, type HubSettings } from './settings.js';

/** Which version of a Hub model, and which file of a GGUF repo. Both are ignored for a local path. */
export interface ModelSource {
  /** A branch, tag or commit hash (default `main`). */
  revision?: string;
  /** A GGUF repo's file to load (repos of GGUF files hold one file per quantization). */
  ggufFile?: string;
}

/** Python's repo id rule (validate_repo_id), with the owner required: `owner/name`. */
const REPO_ID = /^\w(?:[\w.-]*\w)?\/\w(?:[\w.-]*\w)?$/;

export function isHubRepoId(model: string): boolean {
  return REPO_ID.test(model) && !model.includes('--') && !model.includes('..') && !model.endsWith('.git') && model.length <= 96;
}

/**
 * A model reference as given in a config file or on the command line: a path (taken from
 * `baseDir` when relative), or the Hub id itself when nothing of that name is here.
 */
export function localOrHubId(model: string, baseDir: string): string {
  const local = isAbsolute(model) ? model : resolve(baseDir, model);
  return isHubRepoId(model) && !existsSync(local) ? model : local;
}

// One process sees one snapshot per (repo, revision): the trainer's reference model is the
// policy's commit even if the branch moves meanwhile, and it is not asked for twice.
const resolved = new Map<string, Promise<string>>();

/** The path to load `model` from: itself when it exists here or is no Hub id, else its snapshot in the Hub cache. */
export async function resolveModelPath(model: string, source: ModelSource = {}): Promise<string> {
  if (existsSync(model) || !isHubRepoId(model)) return model;
  const settings = hubSettings();
  const revision = source.revision ?? 'main';
  const key = JSON.stringify([settings.endpoint, settings.cacheDir, settings.offline, model, revision, source.ggufFile ?? null]);
  const known = resolved.get(key);
  if (known && existsSync(await known.catch(() => ''))) return known;
  const path = hubModelPath(settings, { repo: model, revision }, source.ggufFile);
  resolved.set(key, path);
  path.catch(() => resolved.delete(key));
  return path;
}

async function hubModelPath(settings: HubSettings, ref: RepoRef, ggufFile: string | undefined): Promise<string> {
  const repoDir = repoCacheDir(settings.cacheDir, ref.repo);
  if (settings.offline) {
    const cached = cachedModel(repoDir, ref, ggufFile);
    if (typeof cached === 'string') return cached;
    throw new StatesetError('ERR_HUB_OFFLINE', `HF_HUB_OFFLINE is set and ${ref.repo} (revision ${ref.revision}) is not in the Hub cache ${settings.cacheDir}: ${cached.why}. Download it once without HF_HUB_OFFLINE (or with Python's huggingface_hub).`);
  }
  // A commit never changes: when its snapshot is here, the Hub has nothing to add (as in Python).
  if (isCommitHash(ref.revision)) {
    const cached = cachedModel(repoDir, ref, ggufFile);
    if (typeof cached === 'string') return cached;
  }
  const target: HubTarget = { settings, ...ref };
  let remote: RepoRevision;
  try {
    remote = await repoRevision(target);
  } catch (err) {
    // No answer from the Hub (not an error status): use the cached snapshot, as Python does.
    const cached = err instanceof StatesetError && err.code === 'ERR_HUB_OFFLINE' ? cachedModel(repoDir, ref, ggufFile) : undefined;
    if (typeof cached === 'string') {
      process.emitWarning(`${err instanceof Error ? err.message : err} Using the cached ${ref.repo} (revision ${ref.revision}) instead.`);
      return cached;
    }
    throw err;
  }
  const snapshot = snapshotDir(repoDir, remote.commit);
  const fetchFiles = (paths: string[]) => ensureFiles(target, repoDir, remote, paths);
  const files = filesToFetch(ref, remote.files, ggufFile);
  if (files.includes(SAFETENSORS_INDEX)) {
    await fetchFiles([SAFETENSORS_INDEX]);
    files.push(...shardsOf(ref, join(snapshot, SAFETENSORS_INDEX), remote.files));
  }
  await fetchFiles(files);
  writeRef(repoDir, ref.revision, remote.commit);
  return ggufFile === undefined ? snapshot : join(snapshot, ggufFile);
}

/** Brings every file of `paths` into the snapshot, downloading those whose blob is not here. */
async function ensureFiles(target: HubTarget, repoDir: string, remote: RepoRevision, paths: string[]): Promise<void> {
  const snapshot = snapshotDir(repoDir, remote.commit);
  const missing = paths.filter((p) => !existsSync(join(snapshot, p)));
  if (missing.length === 0) return;
  const infos = await remoteFiles(target, remote.commit, missing, remote.gated);
  const jobs = missing.map((path) => {
    const file = infos.get(path)!;
    return { path, commit: remote.commit, file, blob: blobPath(repoDir, file.etag), gated: remote.gated };
  });
  const toDownload = jobs.filter((job) => !existsSync(job.blob));
  const total = toDownload.reduce((sum, job) => sum + job.file.size, 0);
  const resumed = toDownload.reduce((sum, job) => sum + Math.min(partialSize(incompletePath(job.blob)), job.file.size), 0);
  mkdirSync(join(repoDir, 'blobs'), { recursive: true });
  if (toDownload.length > 0) await ensureSpace(join(repoDir, 'blobs'), total - resumed);
  const { settings, repo, revision } = target;
  const progress = downloadProgress(`Downloading ${repo} (${revision})`, settings.cacheDir, total, resumed, settings.progressBars);
  try {
    for (const job of jobs) {
      if (!existsSync(job.blob)) await downloadBlob(target, job, progress);
      linkIntoSnapshot(repoDir, remote.commit, job.path, job.file.etag);
    }
  } finally {
    progress.finish();
  }
}

/** The cached model's path, or why the cache cannot give it. */
function cachedModel(repoDir: string, ref: RepoRef, ggufFile: string | undefined): string | { why: string } {
  const commit = cachedCommit(repoDir, ref.revision);
  if (commit === undefined) return { why: `no snapshot of revision ${ref.revision} was ever downloaded` };
  const snapshot = snapshotDir(repoDir, commit);
  const present = snapshotFiles(snapshot);
  try {
    const files = filesToFetch(ref, present, ggufFile);
    if (files.includes(SAFETENSORS_INDEX)) files.push(...shardsOf(ref, join(snapshot, SAFETENSORS_INDEX), present));
  } catch (err) {
    return { why: `its snapshot ${commit} is incomplete (${(err as Error).message})` };
  }
  return ggufFile === undefined ? snapshot : join(snapshot, ggufFile);
}

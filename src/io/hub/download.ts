/**
 * One file from the Hub into the cache's blobs/: received into <blob>.incomplete (resumed
 * from where an interrupted download stopped), checked against the size and hash the Hub
 * gave, and only then renamed to its final name. A half-written or wrong file is never
 * taken as complete, and a full disk leaves nothing behind.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StatesetError } from '../../core/errors.js';
import { partialSize } from './cache.js';
import { openDownload, type HubTarget, type RemoteFile } from './hub-api.js';
import { megabytes, type DownloadProgress } from './progress.js';

export interface BlobDownload {
  /** The file's path in the repo. */
  path: string;
  commit: string;
  file: RemoteFile;
  /** blobs/<etag> in the cache. */
  blob: string;
  gated: boolean;
}

export function incompletePath(blob: string): string {
  return `${blob}.incomplete`;
}

export async function downloadBlob(target: HubTarget, job: BlobDownload, progress: DownloadProgress): Promise<void> {
  const partial = incompletePath(job.blob);
  mkdirSync(dirname(job.blob), { recursive: true });
  let have = partialSize(partial);
  if (have > job.file.size) {
    rmSync(partial, { force: true }); // longer than the file: not a prefix of it
    have = 0;
  }
  if (have < job.file.size) await receive(target, job, partial, have, progress);
  const problem = await contentProblem(partial, job.file);
  if (problem) {
    rmSync(partial, { force: true });
    throw new StatesetError('ERR_HUB_DOWNLOAD', `${target.repo}/${job.path} arrived damaged (${problem}) and was deleted; run again to download it anew.`);
  }
  renameSync(partial, job.blob);
}

async function receive(target: HubTarget, job: BlobDownload, partial: string, from: number, progress: DownloadProgress): Promise<void> {
  const body = await openDownload(target, job.commit, job.path, from, job.gated);
  const count = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      progress.advance(chunk.length);
      done(null, chunk);
    },
  });
  const file = createWriteStream(partial, { flags: 'a' });
  try {
    await pipeline(Readable.fromWeb(body as import('node:stream/web').ReadableStream<Uint8Array>), count, file);
  } catch (err) {
    if (!file.closed) await new Promise<void>((closed) => file.once('close', () => closed())); // writes already under way land first
    const got = partialSize(partial);
    if (isDiskFull(err)) {
      rmSync(partial, { force: true });
      throw new StatesetError(
        'ERR_HUB_DISK_FULL',
        `the disk filled up while downloading ${target.repo}/${job.path} (${megabytes(job.file.size)}) into ${dirname(partial)}; the partial file was deleted. Free some space, or set HF_HUB_CACHE to a folder on a larger disk, and run again.`,
        { cause: err },
      );
    }
    if (err instanceof StatesetError) throw err;
    throw new StatesetError(
      'ERR_HUB_DOWNLOAD',
      `the download of ${target.repo}/${job.path} stopped after ${got} of ${job.file.size} bytes (${reason(err)}); run again to resume it (the bytes so far are kept in ${partial}).`,
      { cause: err },
    );
  }
}

/** Fails early, before a download that cannot fit (Python only warns, and fails later). */
export async function ensureSpace(dir: string, bytes: number): Promise<void> {
  let free: number;
  try {
    const fs = await statfs(dir);
    free = fs.bavail * fs.bsize;
  } catch {
    return; // no statfs here: the write itself will tell
  }
  if (bytes > free) {
    throw new StatesetError('ERR_HUB_DISK_FULL', `the download needs ${megabytes(bytes)} but ${dir} has ${megabytes(free)} free; free some space, or set HF_HUB_CACHE to a folder on a larger disk.`);
  }
}

/** Why the file is not the one the Hub described, or undefined when it is. */
async function contentProblem(path: string, file: RemoteFile): Promise<string | undefined> {
  const size = statSync(path).size;
  if (size !== file.size) return `${size} bytes where the Hub said ${file.size}`;
  // LFS files are named by their sha256, other files by their git blob id (sha1 of "blob <size>\0" + content).
  const sha256 = file.lfs && /^[0-9a-f]{64}$/.test(file.etag);
  const gitBlob = !file.lfs && /^[0-9a-f]{40}$/.test(file.etag);
  if (!sha256 && !gitBlob) return undefined;
  const hash = createHash(sha256 ? 'sha256' : 'sha1');
  if (gitBlob) hash.update(`blob ${size}\0`);
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  const digest = hash.digest('hex');
  return digest === file.etag ? undefined : `its ${sha256 ? 'sha256' : 'git blob id'} is ${digest}, the Hub's is ${file.etag}`;
}

function isDiskFull(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

function reason(err: unknown): string {
  if (typeof err === 'string') return err;
  const e = err as Error & { cause?: { code?: string } };
  return e?.cause?.code ?? e?.message ?? String(err);
}

/**
 * The Hub cache layout that Python's huggingface_hub and @huggingface/hub both use, so a
 * model downloaded by either is found by both:
 *
 *   <cache>/models--<owner>--<name>/
 *     blobs/<etag>                     file contents, named by LFS sha256 or git blob id
 *     blobs/<etag>.incomplete          a download in progress (resumed, never read)
 *     refs/<revision>                  the commit a branch or tag pointed at
 *     snapshots/<commit>/<path>        relative symlinks into blobs/ (copies where links fail)
 */
import { getRepoFolderName } from '@huggingface/hub';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

const COMMIT = /^[0-9a-f]{40}$/;

export function isCommitHash(revision: string): boolean {
  return COMMIT.test(revision);
}

export function repoCacheDir(cacheDir: string, repo: string): string {
  return join(cacheDir, getRepoFolderName({ name: repo, type: 'model' }));
}

export function snapshotDir(repoDir: string, commit: string): string {
  return join(repoDir, 'snapshots', commit);
}

export function blobPath(repoDir: string, etag: string): string {
  return join(repoDir, 'blobs', etag);
}

/** The commit `revision` names in the cache: itself when it is a commit hash, else refs/<revision>. */
export function cachedCommit(repoDir: string, revision: string): string | undefined {
  if (isCommitHash(revision)) return revision;
  try {
    const commit = readFileSync(join(repoDir, 'refs', revision), 'utf8').trim();
    return isCommitHash(commit) ? commit : undefined;
  } catch {
    return undefined;
  }
}

/** Records that `revision` points at `commit` (as Python does: no newline, only when it changed). */
export function writeRef(repoDir: string, revision: string, commit: string): void {
  if (revision === commit || cachedCommit(repoDir, revision) === commit) return;
  const path = join(repoDir, 'refs', revision);
  mkdirSync(dirname(path), { recursive: true });
  const temp = `${path}.tmp-${process.pid}`;
  writeFileSync(temp, commit);
  renameSync(temp, path);
}

/**
 * Makes snapshots/<commit>/<path> point at the blob. The link appears whole or not at all
 * (made beside it, then renamed over), so a reader never sees a pointer to nothing.
 */
export function linkIntoSnapshot(repoDir: string, commit: string, path: string, etag: string): void {
  const pointer = join(snapshotDir(repoDir, commit), path);
  const blob = blobPath(repoDir, etag);
  mkdirSync(dirname(pointer), { recursive: true });
  const temp = `${pointer}.tmp-${process.pid}`;
  rmSync(temp, { force: true });
  try {
    symlinkSync(relative(dirname(pointer), blob), temp);
  } catch {
    copyFileSync(blob, temp); // no symlinks here (Windows without developer mode): Python copies too
  }
  renameSync(temp, pointer);
}

/** Every file of a snapshot (paths relative to it, '/'-separated), links to missing blobs left out. */
export function snapshotFiles(dir: string, prefix = ''): string[] {
  let entries;
  try {
    entries = readdirSync(join(dir, prefix), { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((entry) => {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) return snapshotFiles(dir, path);
    return existsSync(join(dir, path)) ? [path] : [];
  });
}

/** Bytes already downloaded into blobs/<etag>.incomplete (0 when none). */
export function partialSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

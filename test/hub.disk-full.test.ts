// A full disk while downloading a Hub model: a named error, and nothing half-written left in
// the cache. The cache is a small tmpfs mounted in a private mount namespace (root and
// util-linux's unshare; the test skips where they are not available).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FakeHub } from './helpers/fake-hub.js';
import { CHAT_REPO, makeHubRepos } from './helpers/hub-repos.js';
import { tempDir } from './helpers/tiny-model.js';

const probe = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', `d=$(mktemp -d) && mount -t tmpfs -o size=64k tmpfs "$d"`], { encoding: 'utf8' });
const skip = probe.status === 0 ? false : `cannot mount a tmpfs in a private mount namespace here (needs root and unshare): ${probe.stderr || probe.error?.message}`;

let hub: FakeHub;
before(async () => {
  if (!skip) hub = await FakeHub.start(makeHubRepos().repos);
});
after(() => hub?.close());

/** Loads CHAT_REPO in a child whose Hub cache is a tmpfs of `size`; `onChild` may drive it. */
async function loadOnSmallDisk(size: string, onChild?: (child: ReturnType<typeof spawn>, stdout: () => string) => Promise<void>) {
  const cache = join(tempDir(), 'hub');
  mkdirSync(cache);
  const script = `mount -t tmpfs -o size=${size} tmpfs "$HF_HUB_CACHE" && exec "$0" --import tsx test/helpers/hub-disk-full-child.ts "$1"`;
  const child = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, process.execPath, CHAT_REPO], {
    env: { ...process.env, HF_ENDPOINT: hub.endpoint, HF_HUB_CACHE: cache, HF_TOKEN_PATH: '/nonexistent', HF_HUB_DISABLE_PROGRESS_BARS: '1', HF_HUB_OFFLINE: '' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  await onChild?.(child, () => stdout);
  const [code] = await once(child, 'close');
  assert.equal(code, 0, stderr);
  return JSON.parse(stdout.trim().split('\n').at(-1)!);
}

describe('a full disk', { skip }, () => {
  it('a download larger than the free space fails before it starts', async () => {
    const { first, blobs, retry } = await loadOnSmallDisk('128k');
    assert.equal(first.code, 'ERR_HUB_DISK_FULL');
    assert.match(first.message, /the download needs 0\.\d+ MB but .* has 0\.1\d MB free; free some space, or set HF_HUB_CACHE/);
    assert.deepEqual(blobs, [], 'nothing was written');
    assert.equal(retry.code, 'ERR_HUB_DISK_FULL');
  });

  it('a disk that fills up mid-download leaves no partial file, and the next try succeeds', async () => {
    const held = hub.holdNext('model.safetensors', 100_000);
    const result = await loadOnSmallDisk('4m', async (child, stdout) => {
      await held.reached;
      child.stdin!.write('fill\n');
      while (!stdout().includes('filled')) await new Promise((r) => setTimeout(r, 20));
      held.release();
    });
    assert.equal(result.first.code, 'ERR_HUB_DISK_FULL', result.first.message);
    assert.match(result.first.message, /the disk filled up while downloading tiny-org\/tiny-chat\/model\.safetensors .*the partial file was deleted/);
    assert.ok(!result.blobs.some((b: string) => b.endsWith('.incomplete')), `no partial file: ${result.blobs}`);
    assert.ok(!result.snapshots.some((s: string) => s.endsWith('model.safetensors')), 'no pointer to missing weights');
    assert.match(result.retry.loaded ?? result.retry.message, /snapshots\/[0-9a-f]{40}$/);
  });
});

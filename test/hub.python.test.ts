// One Hub cache for Python and TypeScript: what Python's huggingface_hub downloaded (from the
// same loopback Hub) loads with no download, and Python reads, offline, what the project
// downloaded. Needs .venv-hub (scripts/setup-python-hub.sh); CI always has it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { loadModel } from '../src/index.js';
import { FakeHub, sha256 } from './helpers/fake-hub.js';
import { CHAT_REPO, ENGINE_FILES, makeHubRepos, type HubRepos } from './helpers/hub-repos.js';
import { tempDir } from './helpers/tiny-model.js';

const PYTHON = resolve('.venv-hub', 'bin', 'python');
const HF_VARS = ['HF_ENDPOINT', 'HF_HOME', 'HF_HUB_CACHE', 'HUGGINGFACE_HUB_CACHE', 'HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN', 'HF_TOKEN_PATH', 'HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE'];
const missing = !existsSync(PYTHON);
// Locally the test may skip; CI installs the venv, so there a missing one is a failure.
const skip = missing && !process.env.CI ? 'Python huggingface_hub is not installed here: run scripts/setup-python-hub.sh to create .venv-hub' : false;

let hub: FakeHub;
let made: HubRepos;
let cache: string;

before(async () => {
  if (missing) return;
  made = makeHubRepos();
  hub = await FakeHub.start(made.repos);
});
after(() => hub?.close());
beforeEach(() => {
  for (const name of HF_VARS) delete process.env[name];
  cache = join(tempDir(), 'hub');
  Object.assign(process.env, { HF_ENDPOINT: hub?.endpoint, HF_HUB_CACHE: cache, HF_TOKEN_PATH: join(cache, 'no-token'), HF_HUB_DISABLE_PROGRESS_BARS: '1' });
  hub?.requests.splice(0);
});

/** Runs Python code with the test's Hub settings (the loopback Hub keeps serving meanwhile); returns what it printed as JSON. */
async function python(code: string, env: Record<string, string> = {}): Promise<any> {
  const child = spawn(PYTHON, ['-c', code], { env: { ...process.env, HF_HUB_DISABLE_TELEMETRY: '1', HF_HUB_DISABLE_XET: '1', ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const [status] = await once(child, 'close');
  assert.equal(status, 0, `python failed:\n${stderr}`);
  return JSON.parse(stdout.trim().split('\n').at(-1)!);
}

describe('the Hub cache shared with Python huggingface_hub', { skip }, () => {
  it('has Python huggingface_hub to test with', () => {
    assert.ok(!missing, `${PYTHON} is missing: .ci/run must run scripts/setup-python-hub.sh`);
  });

  it("a model Python's snapshot_download fetched loads with no download, online and offline", async () => {
    const written = await python(`
import json
from huggingface_hub import snapshot_download
print(json.dumps(snapshot_download("${CHAT_REPO}")))`);
    assert.ok(hub.fileRequests().length > 0, 'Python downloaded from the loopback Hub');
    assert.equal(written, join(cache, 'models--tiny-org--tiny-chat', 'snapshots', hub.commit(CHAT_REPO, 1)));

    hub.requests.splice(0);
    const model = await loadModel(CHAT_REPO);
    assert.equal(model.source, written);
    assert.deepEqual(hub.fileRequests(), [], 'no file was downloaded again');
    assert.deepEqual(hub.requests.map((r) => r.path.split('?')[0]), [`/api/models/${CHAT_REPO}/revision/main`], 'one question: which commit is main');

    process.env.HF_HUB_OFFLINE = '1';
    hub.requests.splice(0);
    assert.equal((await loadModel(CHAT_REPO, { revision: 'main' })).source, written);
    assert.deepEqual(hub.requests, []);
  });

  it('Python reads offline what the project downloaded, and finds the cache well-formed', async () => {
    const model = await loadModel(CHAT_REPO, { revision: 'v1' });
    const v1 = hub.commit(CHAT_REPO, 0);
    const read = await python(
      `
import hashlib, json
from huggingface_hub import hf_hub_download, scan_cache_dir, snapshot_download, try_to_load_from_cache
repo = "${CHAT_REPO}"
files = ${JSON.stringify(ENGINE_FILES)}
cached = {f: try_to_load_from_cache(repo, f, revision="v1") for f in files}
downloaded = {f: hf_hub_download(repo, f, revision="v1") for f in files}
info = scan_cache_dir()
repos = [{"id": r.repo_id, "revisions": [{"commit": v.commit_hash, "refs": sorted(v.refs), "files": sorted(f.file_name for f in v.files)} for v in r.revisions]} for r in info.repos]
print(json.dumps({
  "snapshot": snapshot_download(repo, revision="v1"),
  "cached": cached,
  "sha256": {f: hashlib.sha256(open(p, "rb").read()).hexdigest() for f, p in downloaded.items()},
  "warnings": [str(w) for w in info.warnings],
  "repos": repos,
}))`,
      { HF_HUB_OFFLINE: '1' },
    );
    assert.equal(read.snapshot, model.source);
    for (const file of ENGINE_FILES) {
      assert.equal(read.cached[file], join(model.source!, file));
      assert.equal(read.sha256[file], sha256(readFileSync(join(made.v1Dir, file))), file);
    }
    assert.deepEqual(read.warnings, []);
    assert.deepEqual(read.repos, [{ id: CHAT_REPO, revisions: [{ commit: v1, refs: ['v1'], files: ENGINE_FILES }] }]);
  });
});

// Hub model ids (owner/name) against a loopback Hub: what is downloaded and where, revision
// pinning, shards, GGUF repos, resuming, offline mode and the errors a user meets.
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { getHFHubCachePath } from '@huggingface/hub';
import { Agent, loadModel, Model } from '../src/index.js';
import { hubSettings } from '../src/io/hub/settings.js';
import { createAgent, loadRunConfig } from '../src/train/run-config.js';
import { isCode } from './helpers/errors.js';
import { FakeHub, gitBlobId, sha256 } from './helpers/fake-hub.js';
import { BIN_REPO, CHAT_REPO, ENGINE_FILES, GATED_REPO, GGUF_REPO, GRANTED_TOKEN, makeHubRepos, SHARDED_REPO, type HubRepos } from './helpers/hub-repos.js';
import { tempDir } from './helpers/tiny-model.js';
import { runCli } from './helpers/trainer.js';

const HF_VARS = ['HF_ENDPOINT', 'HF_HOME', 'HF_HUB_CACHE', 'HUGGINGFACE_HUB_CACHE', 'HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN', 'HF_TOKEN_PATH', 'HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE', 'HF_HUB_DISABLE_PROGRESS_BARS'];

let hub: FakeHub;
let made: HubRepos;
let cache: string;

before(async () => {
  made = makeHubRepos();
  hub = await FakeHub.start(made.repos);
});
after(() => hub.close());

/** A fresh cache and the loopback Hub for each test; no token unless the test sets one. */
beforeEach(() => {
  for (const name of HF_VARS) delete process.env[name];
  cache = join(tempDir(), 'hub');
  Object.assign(process.env, { HF_ENDPOINT: hub.endpoint, HF_HUB_CACHE: cache, HF_TOKEN_PATH: join(cache, 'no-token'), HF_HUB_DISABLE_PROGRESS_BARS: '1' });
  hub.requests.length = 0;
});

const repoDir = (repo: string, root = cache) => join(root, `models--${repo.replace('/', '--')}`);
const snapshot = (repo: string, commit: string) => join(repoDir(repo), 'snapshots', commit);
const requestedFiles = () => new Set(hub.requests.filter((r) => r.path.includes('/resolve/')).map((r) => decodeURIComponent(r.path.split('/').slice(5).join('/'))));
const blobs = (repo: string) => (existsSync(join(repoDir(repo), 'blobs')) ? readdirSync(join(repoDir(repo), 'blobs')).sort() : []);

async function scores(model: Model): Promise<Float32Array> {
  const ids = model.tokenize('<|im_start|>user\nWhere is my order?<|im_end|>\n<|im_start|>assistant\nIt ships today.');
  return (await model.score([ids], { start: 1 }))[0].logprobs;
}

describe('a Hub model id', () => {
  it('Agent.create downloads only the files the engine reads, into HF_HUB_CACHE in the layout Python uses', async () => {
    const agent = await Agent.create({ model: CHAT_REPO });
    const commit = hub.commit(CHAT_REPO, 1);
    const model = agent.policy as Model;
    assert.equal(model.source, snapshot(CHAT_REPO, commit));
    assert.deepEqual([...requestedFiles()].sort(), ENGINE_FILES, 'README, pytorch_model.bin and onnx/ stay on the Hub');
    assert.equal(readFileSync(join(repoDir(CHAT_REPO), 'refs', 'main'), 'utf8'), commit);
    for (const file of ENGINE_FILES) {
      const pointer = join(snapshot(CHAT_REPO, commit), file);
      const content = readFileSync(join(made.mainDir, file));
      const etag = file.endsWith('.safetensors') ? sha256(content) : gitBlobId(content);
      assert.ok(lstatSync(pointer).isSymbolicLink(), `${file} is a link into blobs/`);
      assert.equal(readlinkSync(pointer), join('..', '..', 'blobs', etag), `${file} links to its blob by relative path`);
      assert.deepEqual(readFileSync(pointer), content);
    }
    assert.equal(blobs(CHAT_REPO).length, ENGINE_FILES.length, 'no partial or extra blobs');
    assert.deepEqual(await scores(model), await scores(await loadModel(made.mainDir)), 'the same model as the folder it was made from');
  });

  it('goes into HF_HOME/hub when HF_HUB_CACHE is not set', async () => {
    const home = tempDir();
    delete process.env.HF_HUB_CACHE;
    process.env.HF_HOME = home;
    const model = await loadModel(CHAT_REPO);
    assert.equal(model.source, join(repoDir(CHAT_REPO, join(home, 'hub')), 'snapshots', hub.commit(CHAT_REPO, 1)));
  });

  it('revision pins a tag; its commit hash then loads from the cache with no request', async () => {
    const pinned = await loadModel(CHAT_REPO, { revision: 'v1' });
    const v1 = hub.commit(CHAT_REPO, 0);
    assert.equal(pinned.source, snapshot(CHAT_REPO, v1));
    assert.equal(readFileSync(join(repoDir(CHAT_REPO), 'refs', 'v1'), 'utf8'), v1);
    assert.deepEqual(readFileSync(join(pinned.source!, 'model.safetensors')), readFileSync(join(made.v1Dir, 'model.safetensors')));
    assert.deepEqual(await scores(pinned), await scores(await loadModel(made.v1Dir)));

    hub.requests.length = 0;
    const byCommit = await loadModel(CHAT_REPO, { revision: v1 });
    assert.equal(byCommit.source, pinned.source);
    assert.deepEqual(hub.requests, [], 'a commit never changes: nothing to ask the Hub');
  });

  it('a sharded model downloads its index and every shard, and scores as the single file does', async () => {
    const model = await loadModel(SHARDED_REPO);
    assert.deepEqual(
      [...requestedFiles()].filter((f) => f.startsWith('model')).sort(),
      ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'model.safetensors.index.json'],
    );
    assert.deepEqual(await scores(model), await scores(await loadModel(made.mainDir)));
  });

  it('ggufFile picks one file of a GGUF repo; without it the error lists the files', async () => {
    const model = await loadModel(GGUF_REPO, { ggufFile: 'model-q8_0.gguf' });
    assert.equal(model.source, join(snapshot(GGUF_REPO, hub.commit(GGUF_REPO)), 'model-q8_0.gguf'));
    assert.deepEqual([...requestedFiles()], ['model-q8_0.gguf'], 'the f32 file stays on the Hub');
    assert.equal(model.config.architecture, 'llama');
    await assert.rejects(loadModel(GGUF_REPO), isCode('ERR_HUB_NO_WEIGHTS', /model-f32\.gguf, model-q8_0\.gguf.*--gguf-file/));
    await assert.rejects(loadModel(GGUF_REPO, { ggufFile: 'model-q4.gguf' }), isCode('ERR_HUB_NO_WEIGHTS', /no file model-q4\.gguf; its \.gguf files: model-f32\.gguf/));
  });

  it('an interrupted download leaves only an .incomplete file, and the next try resumes from its end', async () => {
    hub.cutNext('model.safetensors', 100_000);
    await assert.rejects(loadModel(CHAT_REPO), isCode('ERR_HUB_DOWNLOAD', /model\.safetensors stopped after \d+ of \d+ bytes.*run again to resume/));
    const weights = readFileSync(join(made.mainDir, 'model.safetensors'));
    const blob = join(repoDir(CHAT_REPO), 'blobs', sha256(weights));
    const commit = hub.commit(CHAT_REPO, 1);
    assert.ok(!existsSync(blob), 'no blob under the final name');
    assert.ok(!existsSync(join(snapshot(CHAT_REPO, commit), 'model.safetensors')), 'no pointer to a partial file');
    assert.ok(!existsSync(join(repoDir(CHAT_REPO), 'refs', 'main')), 'the revision is not recorded before the snapshot is whole');
    const kept = lstatSync(`${blob}.incomplete`).size;
    assert.ok(kept > 0 && kept <= 100_000, `kept ${kept} bytes`);

    hub.requests.length = 0;
    const model = await loadModel(CHAT_REPO);
    const ranges = hub.requests.filter((r) => r.server === 'cdn' && r.range !== 'bytes=0-0').map((r) => r.range);
    assert.deepEqual(ranges, [`bytes=${kept}-${weights.length - 1}`], 'only the missing bytes were asked for');
    assert.deepEqual(readFileSync(blob), weights);
    assert.ok(!existsSync(`${blob}.incomplete`));
    assert.deepEqual(await scores(model), await scores(await loadModel(made.mainDir)));
  });

  it('a download that arrives damaged is deleted, never cached', async () => {
    hub.corruptNext('tokenizer.json');
    await assert.rejects(loadModel(CHAT_REPO), isCode('ERR_HUB_DOWNLOAD', /tokenizer\.json arrived damaged \(its git blob id is [0-9a-f]{40}, the Hub's is [0-9a-f]{40}\)/));
    const tokenizer = gitBlobId(readFileSync(join(made.mainDir, 'tokenizer.json')));
    assert.ok(!blobs(CHAT_REPO).some((b) => b.startsWith(tokenizer)), 'neither a blob nor an .incomplete file of it');
    assert.ok(!existsSync(join(snapshot(CHAT_REPO, hub.commit(CHAT_REPO, 1)), 'tokenizer.json')));
  });

  it('HF_HUB_OFFLINE=1 loads from the cache without a request, and names the repo it lacks', async () => {
    const online = await loadModel(CHAT_REPO, { revision: 'v1' });
    process.env.HF_HUB_OFFLINE = '1';
    hub.requests.length = 0;
    const offline = await loadModel(CHAT_REPO, { revision: 'v1' });
    assert.equal(offline.source, online.source);
    assert.deepEqual(hub.requests, []);
    await assert.rejects(loadModel(SHARDED_REPO), isCode('ERR_HUB_OFFLINE', /HF_HUB_OFFLINE is set and tiny-org\/tiny-sharded \(revision main\) is not in the Hub cache/));
    await assert.rejects(loadModel(CHAT_REPO), isCode('ERR_HUB_OFFLINE', /tiny-org\/tiny-chat \(revision main\).*no snapshot of revision main/));
    assert.deepEqual(hub.requests, []);
  });

  it('an unreachable Hub falls back to the cached snapshot, else says it cannot reach it', async () => {
    const online = await loadModel(CHAT_REPO, { revision: 'v1' });
    const closed = await FakeHub.start();
    process.env.HF_ENDPOINT = closed.endpoint;
    await closed.close();
    const fallback = await loadModel(CHAT_REPO, { revision: 'v1' });
    assert.equal(fallback.source, online.source);
    await assert.rejects(loadModel(SHARDED_REPO), isCode('ERR_HUB_OFFLINE', /tiny-org\/tiny-sharded is not a local path here, and cannot reach the Hub at http:\/\/127\.0\.0\.1:\d+ for it: ECONNREFUSED/));
  });

  it('a gated model needs HF_TOKEN with access; the token never goes to the CDN', async () => {
    await assert.rejects(loadModel(GATED_REPO), isCode('ERR_HUB_GATED', /tiny-org\/tiny-gated is a gated model; accept the model's conditions at .*\/tiny-org\/tiny-gated, then set HF_TOKEN/));
    process.env.HF_TOKEN = 'hf_someone_else';
    await assert.rejects(loadModel(GATED_REPO), isCode('ERR_HUB_GATED', /the token in HF_TOKEN has no access to it/));
    assert.deepEqual(blobs(GATED_REPO), [], 'nothing of it in the cache');
    process.env.HF_TOKEN = GRANTED_TOKEN;
    hub.requests.length = 0;
    const model = await loadModel(GATED_REPO);
    assert.equal(model.config.architecture, 'llama');
    assert.ok(hub.requests.some((r) => r.server === 'hub' && r.authorization === `Bearer ${GRANTED_TOKEN}`));
    assert.ok(hub.requests.some((r) => r.server === 'cdn'));
    assert.ok(hub.requests.filter((r) => r.server === 'cdn').every((r) => r.authorization === undefined), 'signed CDN URLs get no token');
  });

  it('the token `hf auth login` saved (HF_HOME/token) is used when HF_TOKEN is not set', async () => {
    const home = tempDir();
    writeFileSync(join(home, 'token'), `${GRANTED_TOKEN}\n`);
    delete process.env.HF_TOKEN_PATH;
    process.env.HF_HOME = home;
    assert.equal((await loadModel(GATED_REPO)).config.architecture, 'llama');
  });

  it('an unknown repo or revision is a named error, and nothing is written to the cache', async () => {
    await assert.rejects(loadModel('tiny-org/no-such-model'), isCode('ERR_HUB_NOT_FOUND', /tiny-org\/no-such-model is neither a local path nor a model repo on http:\/\/127\.0\.0\.1:\d+.*if it is private, set HF_TOKEN/));
    await assert.rejects(loadModel(CHAT_REPO, { revision: 'v9' }), isCode('ERR_HUB_NOT_FOUND', /tiny-org\/tiny-chat has no revision 'v9'/));
    assert.ok(!existsSync(repoDir('tiny-org/no-such-model')));
    assert.deepEqual(blobs(CHAT_REPO), []);
  });

  it('a repo without safetensors or GGUF weights is a named error, before any download', async () => {
    await assert.rejects(loadModel(BIN_REPO), isCode('ERR_HUB_NO_WEIGHTS', /tiny-org\/tiny-bin \(revision main\) has no weights the engine reads: only pytorch_model\.bin; the engine reads safetensors or GGUF/));
    assert.deepEqual([...requestedFiles()], []);
  });

  it('a local folder wins over a Hub id of the same spelling', async () => {
    const dir = tempDir();
    const local = join(dir, 'tiny-org', 'tiny-chat');
    mkdirSync(local, { recursive: true });
    for (const file of ENGINE_FILES) writeFileSync(join(local, file), readFileSync(join(made.v1Dir, file)));
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const model = await loadModel(CHAT_REPO);
      assert.equal(model.source, local);
    } finally {
      process.chdir(cwd);
    }
    assert.deepEqual(hub.requests, []);
  });

  it('a config file takes `model:` as a Hub id with `revision:`', async () => {
    const dir = tempDir();
    const file = join(dir, 'run.yaml');
    writeFileSync(file, `model: ${CHAT_REPO}\nrevision: v1\ntrainer:\n  steps: 1\n`);
    const { config, baseDir } = loadRunConfig(file);
    const agent = await createAgent(config, baseDir);
    assert.equal((agent.policy as Model).source, snapshot(CHAT_REPO, hub.commit(CHAT_REPO, 0)));
    assert.equal(agent.config.revision, 'v1');
  });
});

describe('the Hub settings', () => {
  it('the cache folder is the one @huggingface/hub and Python pick from the same variables', () => {
    const saved = { ...process.env };
    try {
      for (const env of [{}, { HF_HOME: '/h' }, { XDG_CACHE_HOME: '/x' }, { HF_HOME: '/h', HUGGINGFACE_HUB_CACHE: '/old' }, { HF_HUB_CACHE: '/c', HF_HOME: '/h' }]) {
        for (const name of [...HF_VARS, 'XDG_CACHE_HOME']) delete process.env[name];
        Object.assign(process.env, env);
        assert.equal(hubSettings().cacheDir, getHFHubCachePath(), JSON.stringify(env));
      }
    } finally {
      process.env = saved;
    }
  });

  it('reads the endpoint, the token and offline mode as Python does', () => {
    const settings = hubSettings({ HF_ENDPOINT: 'https://mirror.example/', HF_TOKEN: ' hf_abc\n', HF_HUB_OFFLINE: 'yes', HF_HUB_DISABLE_PROGRESS_BARS: 'ON' });
    assert.deepEqual(settings, { endpoint: 'https://mirror.example', cacheDir: settings.cacheDir, token: 'hf_abc', offline: true, progressBars: false });
    assert.equal(hubSettings({ TRANSFORMERS_OFFLINE: '1' }).offline, true);
    assert.equal(hubSettings({ HF_HUB_OFFLINE: '0' }).offline, false);
    assert.equal(hubSettings({ HF_TOKEN: '', HUGGING_FACE_HUB_TOKEN: 'hf_old', HF_TOKEN_PATH: '/none' }).token, 'hf_old');
  });
});

describe('stateset-agents with a Hub id', () => {
  it('eval --model owner/name --revision v1 downloads, reports progress and evaluates', async () => {
    const out = join(tempDir(), 'eval.json');
    const env = { HF_ENDPOINT: hub.endpoint, HF_HUB_CACHE: cache, HF_HUB_DISABLE_PROGRESS_BARS: '0', HF_TOKEN_PATH: join(cache, 'no-token') };
    const { code, stderr } = await runCli(['eval', '--model', CHAT_REPO, '--revision', 'v1', '--config', 'examples/customer-service/config.yaml', '--out', out], { env }).done;
    assert.equal(code, 0, stderr);
    assert.match(stderr, /Downloading tiny-org\/tiny-chat \(v1\) into .*\(0\.\d+ MB\)/);
    assert.equal(JSON.parse(readFileSync(out, 'utf8')).model, CHAT_REPO);
    assert.ok(existsSync(join(snapshot(CHAT_REPO, hub.commit(CHAT_REPO, 0)), 'model.safetensors')));
  });
});

/**
 * A HuggingFace Hub on loopback, serving repos made of in-memory files, with the routes and
 * headers the real Hub sends (huggingface_hub's file_download.py and @huggingface/hub read
 * them):
 *
 *   GET|HEAD /{repo}/resolve/{rev}/{path}   small files: 200 with ETag (git blob id) and
 *                                           X-Repo-Commit; LFS files: 302 to the CDN (another
 *                                           origin) with X-Linked-Etag (sha256), X-Linked-Size
 *   GET /api/models/{repo}[/revision/{rev}] model info: sha, siblings, gated
 *   POST /api/models/{repo}/paths-info/{rev} oid, size, lfs of the asked paths
 *   GET /api/models/{repo}/tree/{rev}       every file (Python's snapshot_download)
 *
 * Errors as the Hub sends them: 401 (no token) / 404 RepoNotFound, 404 RevisionNotFound,
 * 404 EntryNotFound, 401 / 403 GatedRepo. The CDN honours byte ranges. Every request is
 * recorded, and a test can cut or hold the next download of a file part-way.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative } from 'node:path';

export interface FakeCommit {
  files: Record<string, Buffer>;
  /** Branches and tags pointing here. */
  refs: string[];
}

export interface FakeRepo {
  id: string;
  commits: FakeCommit[];
  /** Gated: files need a token from `grantedTokens`. */
  gated?: boolean;
  grantedTokens?: string[];
}

export interface RecordedRequest {
  server: 'hub' | 'cdn';
  method: string;
  path: string;
  range?: string;
  authorization?: string;
}

const LFS = /\.(safetensors|gguf|bin|onnx)$/;

export const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
export const gitBlobId = (data: Buffer) => createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');
/** A commit hash that depends on the files (40 hex digits, as git's). */
const commitOf = (repo: string, files: Record<string, Buffer>) =>
  createHash('sha1').update(repo).update(JSON.stringify(Object.entries(files).map(([p, d]) => [p, sha256(d)]))).digest('hex');

/** Every file of a folder, by its '/'-separated path. */
export function folderFiles(dir: string): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  const walk = (sub: string) => {
    for (const entry of readdirSync(join(dir, sub), { withFileTypes: true })) {
      const path = sub ? `${sub}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(path);
      else out[relative(dir, join(dir, path)).split('\\').join('/')] = readFileSync(join(dir, path));
    }
  };
  walk('');
  return out;
}

interface Hold {
  bytes: number;
  reached: () => void;
  released: Promise<void>;
}

export class FakeHub {
  readonly requests: RecordedRequest[] = [];
  private readonly repos = new Map<string, FakeRepo & { shas: string[] }>();
  private readonly cuts = new Map<string, number>();
  private readonly holds = new Map<string, Hold>();
  private readonly corrupt = new Set<string>();
  private constructor(
    private readonly hub: Server,
    private readonly cdn: Server,
  ) {}

  static async start(repos: FakeRepo[] = []): Promise<FakeHub> {
    let fake: FakeHub | undefined;
    const hub = createServer((req, res) => fake!.serveHub(req, res));
    const cdn = createServer((req, res) => fake!.serveCdn(req, res));
    fake = new FakeHub(hub, cdn);
    await Promise.all([hub, cdn].map((s) => new Promise<void>((ready) => s.listen(0, '127.0.0.1', ready))));
    repos.forEach((r) => fake!.add(r));
    return fake;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${(this.hub.address() as AddressInfo).port}`;
  }

  private get cdnOrigin(): string {
    return `http://127.0.0.1:${(this.cdn.address() as AddressInfo).port}`;
  }

  add(repo: FakeRepo): void {
    this.repos.set(repo.id, { ...repo, shas: repo.commits.map((c) => commitOf(repo.id, c.files)) });
  }

  /** The commit hash of the repo's `index`-th commit. */
  commit(repo: string, index = 0): string {
    return this.repos.get(repo)!.shas[index];
  }

  /** The next download of `path` (not a 1-byte probe) sends `bytes` bytes, then the connection drops. */
  cutNext(path: string, bytes: number): void {
    this.cuts.set(path, bytes);
  }

  /** The next download of `path` sends `bytes` bytes, then waits for `release()`. */
  holdNext(path: string, bytes: number): { reached: Promise<void>; release: () => void } {
    let release!: () => void;
    let reached!: () => void;
    const reachedPromise = new Promise<void>((r) => (reached = r));
    this.holds.set(path, { bytes, reached, released: new Promise<void>((r) => (release = r)) });
    return { reached: reachedPromise, release };
  }

  /** The next download of `path` sends other bytes of the same length (a damaged transfer). */
  corruptNext(path: string): void {
    this.corrupt.add(path);
  }

  /** The recorded requests for file contents (resolve or CDN), probes of 1 byte included. */
  fileRequests(): RecordedRequest[] {
    return this.requests.filter((r) => r.server === 'cdn' || r.path.includes('/resolve/'));
  }

  async close(): Promise<void> {
    await Promise.all([this.hub, this.cdn].map((s) => new Promise<void>((done) => (s.closeAllConnections(), s.close(() => done())))));
  }

  private record(server: 'hub' | 'cdn', req: IncomingMessage): void {
    this.requests.push({ server, method: req.method ?? 'GET', path: req.url ?? '', range: req.headers.range, authorization: req.headers.authorization });
  }

  private serveHub(req: IncomingMessage, res: ServerResponse): void {
    this.record('hub', req);
    const url = new URL(req.url ?? '/', this.endpoint);
    const path = url.pathname.split('/').map(decodeURIComponent);
    // /api/models/{owner}/{name}[/revision/{rev} | /paths-info/{rev} | /tree/{rev}]
    if (path[1] === 'api' && path[2] === 'models') {
      const [owner, name, route, ...rest] = path.slice(3);
      const repo = this.findRepo(`${owner}/${name}`, req, res);
      if (!repo) return;
      const revision = rest.join('/') || 'main';
      const commit = this.findCommit(repo, revision, res);
      if (commit === undefined) return;
      if (route === undefined || route === 'revision') return this.modelInfo(repo, commit, res);
      if (!this.allowed(repo, req, res)) return;
      if (route === 'paths-info') return void this.readBody(req).then((body) => json(res, 200, this.entries(repo, commit, pathsOf(body))));
      if (route === 'tree') return json(res, 200, this.entries(repo, commit, Object.keys(repo.commits[commit].files)));
      return json(res, 404, { error: 'Not found' });
    }
    // /{owner}/{name}/resolve/{rev}/{file...}
    if (path[3] === 'resolve') {
      const repo = this.findRepo(`${path[1]}/${path[2]}`, req, res);
      if (!repo || !this.allowed(repo, req, res)) return;
      const commit = this.findCommit(repo, path[4], res);
      if (commit === undefined) return;
      const file = path.slice(5).join('/');
      const data = repo.commits[commit].files[file];
      if (data === undefined) return error(res, 404, 'EntryNotFound', 'Entry not found');
      const sha = repo.shas[commit];
      if (LFS.test(file)) {
        res.writeHead(302, {
          Location: `${this.cdnOrigin}/repos/${repo.id}/${sha256(data)}?file=${encodeURIComponent(file)}&signature=loopback`,
          'X-Repo-Commit': sha,
          'X-Linked-Etag': `"${sha256(data)}"`,
          'X-Linked-Size': String(data.length),
          ETag: `W/"${gitBlobId(Buffer.from(file))}"`,
          'Content-Type': 'text/plain; charset=utf-8',
        });
        return void res.end(req.method === 'HEAD' ? undefined : `Found. Redirecting to ${this.cdnOrigin}`);
      }
      return this.sendBytes(req, res, file, data, { 'X-Repo-Commit': sha, ETag: `"${gitBlobId(data)}"` });
    }
    json(res, 404, { error: 'Not found' });
  }

  private serveCdn(req: IncomingMessage, res: ServerResponse): void {
    this.record('cdn', req);
    const url = new URL(req.url ?? '/', this.cdnOrigin);
    const [, , owner, name, hash] = url.pathname.split('/');
    const repo = this.repos.get(`${owner}/${name}`);
    const file = url.searchParams.get('file') ?? '';
    const data = repo?.commits.map((c) => c.files[file]).find((d) => d !== undefined && sha256(d) === hash);
    if (!data) return void res.writeHead(404).end();
    this.sendBytes(req, res, file, data, { ETag: `"${hash}"` });
  }

  /** 200 or 206 (byte ranges), with the file's bytes cut, held or damaged as the test asked. */
  private sendBytes(req: IncomingMessage, res: ServerResponse, file: string, data: Buffer, headers: Record<string, string>): void {
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    const start = range ? Number(range[1]) : 0;
    const end = range && range[2] ? Math.min(Number(range[2]), data.length - 1) : data.length - 1;
    let body = data.subarray(start, end + 1);
    res.writeHead(range ? 206 : 200, {
      ...headers,
      'Accept-Ranges': 'bytes',
      'Content-Length': String(body.length),
      'Content-Type': 'application/octet-stream',
      ...(range ? { 'Content-Range': `bytes ${start}-${end}/${data.length}` } : {}),
    });
    if (req.method === 'HEAD') return void res.end();
    const probe = body.length <= 1 && data.length > 1;
    if (!probe && this.corrupt.delete(file)) body = Buffer.from(body.map((b) => b ^ 0xff));
    const cut = probe ? undefined : this.cuts.get(file);
    if (cut !== undefined) {
      this.cuts.delete(file);
      return void res.write(body.subarray(0, cut), () => res.socket?.destroy());
    }
    const hold = probe ? undefined : this.holds.get(file);
    if (hold !== undefined) {
      this.holds.delete(file);
      res.write(body.subarray(0, hold.bytes), () => hold.reached());
      return void hold.released.then(() => res.end(body.subarray(hold.bytes)));
    }
    res.end(body);
  }

  private findRepo(id: string, req: IncomingMessage, res: ServerResponse): (FakeRepo & { shas: string[] }) | undefined {
    const repo = this.repos.get(id);
    // Without a token the Hub answers 401 for a missing repo (it may be private).
    if (!repo) error(res, req.headers.authorization ? 404 : 401, 'RepoNotFound', 'Repository not found');
    return repo;
  }

  private findCommit(repo: FakeRepo & { shas: string[] }, revision: string, res: ServerResponse): number | undefined {
    const index = repo.commits.findIndex((c, i) => repo.shas[i] === revision || c.refs.includes(revision));
    if (index < 0) return void error(res, 404, 'RevisionNotFound', `Invalid rev id: ${revision}`);
    return index;
  }

  private allowed(repo: FakeRepo, req: IncomingMessage, res: ServerResponse): boolean {
    if (!repo.gated) return true;
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (token && repo.grantedTokens?.includes(token)) return true;
    if (!token) error(res, 401, 'GatedRepo', `Access to model ${repo.id} is restricted. You must have access to it and be authenticated to access it. Please log in.`);
    else error(res, 403, 'GatedRepo', `Access to model ${repo.id} is restricted and you are not in the authorized list. Visit ${this.endpoint}/${repo.id} to ask for access.`);
    return false;
  }

  private modelInfo(repo: FakeRepo & { shas: string[] }, commit: number, res: ServerResponse): void {
    json(res, 200, {
      _id: createHash('sha1').update(repo.id).digest('hex').slice(0, 24),
      id: repo.id,
      modelId: repo.id,
      author: repo.id.split('/')[0],
      sha: repo.shas[commit],
      lastModified: '2025-01-01T00:00:00.000Z',
      createdAt: '2025-01-01T00:00:00.000Z',
      private: false,
      disabled: false,
      gated: repo.gated ? 'manual' : false,
      downloads: 0,
      likes: 0,
      tags: ['safetensors'],
      pipeline_tag: 'text-generation',
      library_name: 'transformers',
      siblings: Object.keys(repo.commits[commit].files).map((rfilename) => ({ rfilename })),
    });
  }

  private entries(repo: FakeRepo, commit: number, paths: string[]): object[] {
    const files = repo.commits[commit].files;
    return paths
      .filter((p) => files[p] !== undefined)
      .map((path) => {
        const data = files[path];
        const lfs = LFS.test(path) ? { lfs: { oid: sha256(data), size: data.length, pointerSize: 134 } } : {};
        return { type: 'file', oid: gitBlobId(LFS.test(path) ? Buffer.from(`pointer ${sha256(data)}`) : data), size: data.length, path, ...lfs };
      });
  }

  private readBody(req: IncomingMessage): Promise<{ text: string; type: string }> {
    return new Promise((done) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => done({ text: Buffer.concat(chunks).toString('utf8'), type: req.headers['content-type'] ?? '' }));
    });
  }
}

/** paths-info's paths: a JSON body (@huggingface/hub) or a form (huggingface_hub). */
function pathsOf(body: { text: string; type: string }): string[] {
  if (body.type.includes('json')) return (JSON.parse(body.text) as { paths: string[] }).paths;
  return new URLSearchParams(body.text).getAll('paths');
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
}

function error(res: ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'X-Error-Code': code, 'X-Error-Message': message }).end(JSON.stringify({ error: message }));
}

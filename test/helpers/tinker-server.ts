// Starts SkyRL's Tinker-compatible server (installed by scripts/tinker-server/setup.sh into
// .venv-tinker) on loopback, on CPU, serving a tiny Llama the project makes; stops it by pid.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { makeTinyModel } from '../../src/index.js';
import { scaleTensor } from './scale-tensor.js';

const root = resolve(import.meta.dirname, '..', '..');
export const TINKER_VENV = process.env.TINKER_VENV ?? join(root, '.venv-tinker');

export interface TinkerServer {
  baseUrl: string;
  /** The model folder the server serves (its name on the server is this path). */
  baseModel: string;
  pid: number;
  log: string;
  stop(): Promise<void>;
}

/** Why the server cannot run here, or undefined when it can. */
export function tinkerServerMissing(): string | undefined {
  if (!existsSync(join(TINKER_VENV, 'bin', 'python'))) return `no SkyRL server installed at ${TINKER_VENV}: run scripts/tinker-server/setup.sh`;
  return undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
    server.on('error', reject);
  });
}

export async function startTinkerServer(options: { maxAdapters?: number; rank?: number } = {}): Promise<TinkerServer> {
  const dir = mkdtempSync(join(tmpdir(), 'stateset-tinker-'));
  const baseModel = join(dir, 'tiny-llama');
  makeTinyModel({ arch: 'llama', outDir: baseModel, seed: 3 });
  // Peaked next-token distributions, so that LoRA-only training can move them (scale-tensor.ts).
  scaleTensor(baseModel, 'model.embed_tokens.weight', 8);
  const port = await freePort();
  const log = join(dir, 'server.log');
  const out = openSync(log, 'a');
  const shim = join(root, 'scripts', 'tinker-server');
  const cache = process.env.JAX_COMPILATION_CACHE_DIR ?? join(tmpdir(), 'stateset-jax-cache');
  mkdirSync(cache, { recursive: true });
  const backendConfig = JSON.stringify({ max_lora_adapters: options.maxAdapters ?? 8, max_lora_rank: options.rank ?? 8 });
  const child: ChildProcess = spawn(
    join(shim, 'uv'),
    ['run', '--extra', 'tinker', '--extra', 'jax', '-m', 'skyrl.tinker.api', '--backend', 'jax', '--base-model', baseModel, '--host', '127.0.0.1', '--port', String(port),
      '--database-url', `sqlite:///${join(dir, 'server.db')}`, '--checkpoints-base', join(dir, 'checkpoints'), '--backend-config', backendConfig],
    {
      env: { ...process.env, PATH: `${shim}:${process.env.PATH}`, TINKER_VENV, JAX_PLATFORMS: 'cpu', JAX_COMPILATION_CACHE_DIR: cache, JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS: '0' },
      stdio: ['ignore', out, out],
      detached: true,
    },
  );
  const baseUrl = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode !== null || child.pid === undefined) return;
    // The server and its engine form one process group: end them together.
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      return;
    }
    const exited = new Promise((r) => child.once('exit', r));
    const timeout = new Promise((r) => setTimeout(r, 10_000).unref());
    if ((await Promise.race([exited.then(() => true), timeout.then(() => false)])) === false) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
  };
  const deadline = Date.now() + 180_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the SkyRL server exited (${child.exitCode}):\n${readFileSync(log, 'utf8').slice(-3000)}`);
    try {
      const r = await fetch(`${baseUrl}/api/v1/healthz`, { signal: AbortSignal.timeout(2000) });
      if (r.ok) return { baseUrl, baseModel, pid: child.pid!, log, stop };
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  await stop();
  throw new Error(`the SkyRL server did not answer within 180 s:\n${readFileSync(log, 'utf8').slice(-3000)}`);
}

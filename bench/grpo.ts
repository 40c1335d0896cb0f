/**
 * `npm run bench:grpo`: the same GRPO workload run by the project and by HF TRL's
 * GRPOTrainer, one after the other in this run, on the same model folder (a Llama with
 * random weights made by transformers: bench/grpo/make_model.py) for three shapes: the
 * SmolLM2-135M shape, ~5M and ~0.2M parameters. The workload: 4 prompts x 8 completions of
 * 64 new tokens at temperature 1, a length reward, one full fine-tuning step per batch,
 * beta 0. Each side runs in its own child process (its peak RSS is its own); the first
 * step is a warm-up and the median of the others is reported. Prints JSON.
 *
 * Needs TRL: `bash scripts/bench-trl/setup.sh` (into .venv-bench-trl, or BENCH_TRL_VENV).
 * Usage: npm run bench:grpo [-- --shapes 0.2m,5m,135m]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const venv = process.env.BENCH_TRL_VENV ?? join(root, '.venv-bench-trl');
const python = join(venv, 'bin', 'python');
const threads = String(availableParallelism());

/** Steps per side, the first a warm-up: the 135M shape takes about a minute a step. */
const STEPS: Record<string, number> = { '0.2m': 6, '5m': 6, '135m': 3 };

interface SideResult {
  step_seconds: number[];
  /** The project's steps: sampling (with rewards and advantages), then the update. */
  phases?: Array<{ rollout_s: number; update_s: number }>;
  completion_tokens: number[];
  peak_rss_mib: number;
}

function run(command: string, args: string[]): SideResult & { parameters?: number } {
  const child = spawnSync(command, args, {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    env: { ...process.env, RAYON_NUM_THREADS: threads, OMP_NUM_THREADS: threads, TOKENIZERS_PARALLELISM: 'false' },
  });
  if (child.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (exit ${child.status}):\n${child.stderr.slice(-4000)}`);
  const last = child.stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(last);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

function summary(side: SideResult) {
  const timed = side.step_seconds.slice(1);
  return {
    step_seconds_median: median(timed),
    step_seconds: side.step_seconds.map((s) => Number(s.toFixed(3))),
    ...(side.phases ? { phases: side.phases } : {}),
    completion_tokens_per_step: side.completion_tokens.map((t) => Math.round(t)),
    peak_rss_mib: Math.round(side.peak_rss_mib),
  };
}

function benchShape(shape: string) {
  const work = mkdtempSync(join(tmpdir(), `stateset-bench-grpo-${shape}-`));
  try {
    const model = join(work, 'model');
    const made = run(python, [join(here, 'grpo', 'make_model.py'), '--shape', shape, '--out', model]);
    // Prompts of 16 random words of the word-level vocabulary (the same file for both sides).
    const prompts = join(work, 'prompts.jsonl');
    let state = 12345;
    const word = () => `w${(state = (state * 1103515245 + 12345) % 2 ** 31) % 1000}`;
    writeFileSync(prompts, Array.from({ length: 64 }, () => JSON.stringify({ prompt: Array.from({ length: 16 }, word).join(' ') })).join('\n') + '\n');
    const steps = String(STEPS[shape]);
    const trl = summary(run(python, [join(here, 'grpo', 'trl_run.py'), '--model', model, '--prompts', prompts, '--steps', steps]));
    const project = summary(run(process.execPath, ['--import', 'tsx', join(here, 'grpo', 'project-run.ts'), '--model', model, '--prompts', prompts, '--steps', steps]));
    return {
      shape,
      parameters: made.parameters,
      project,
      trl,
      step_time_ratio_project_over_trl: Number((project.step_seconds_median / trl.step_seconds_median).toFixed(3)),
      speedup_over_trl: Number((trl.step_seconds_median / project.step_seconds_median).toFixed(2)),
      peak_rss_ratio_project_over_trl: Number((project.peak_rss_mib / trl.peak_rss_mib).toFixed(3)),
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const { values } = parseArgs({ options: { shapes: { type: 'string', default: '0.2m,5m,135m' } } });
if (!existsSync(python)) {
  console.error(`bench:grpo needs TRL in ${venv}: run \`bash scripts/bench-trl/setup.sh\` first (or set BENCH_TRL_VENV).`);
  process.exit(1);
}
const results = values.shapes.split(',').map((shape) => {
  if (!(shape in STEPS)) throw new Error(`unknown shape ${shape}; choose from ${Object.keys(STEPS).join(', ')}`);
  return benchShape(shape);
});
console.log(JSON.stringify({ benchmark: 'grpo', threads: Number(threads), workload: { prompts_per_step: 4, completions_per_prompt: 8, max_new_tokens: 64, beta: 0, full_fine_tune: true }, results }, null, 2));

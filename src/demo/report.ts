/**
 * The demo's report: report.json (the before/after figures, KL to the base model and
 * sample conversations) and report.html (the same with training curves), both in one folder.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Message } from '../core/messages.js';
import type { ReplyMetrics } from './metrics.js';
import { reportHtml } from './report-html.js';

/** One held-out conversation played by the model before and after training. */
export interface DemoSample {
  scenario: string;
  before: Message[];
  after: Message[];
}

/** Training curves at one step; a metric measured at other steps only is left out. */
export interface TrainingPoint {
  step: number;
  reward_mean?: number;
  polite_rate?: number;
  mean_words?: number;
  kl?: number;
}

export interface DemoReport {
  model: string;
  algorithm: string;
  steps: number;
  seed: number;
  before: ReplyMetrics;
  after: ReplyMetrics;
  /** Mean per-token KL(trained || base) over the trained model's held-out replies. */
  kl_to_base: number;
  samples: DemoSample[];
  training: TrainingPoint[];
}

/** Writes DIR/report.json and DIR/report.html; returns their paths. */
export async function writeDemoReport(dir: string, report: DemoReport): Promise<{ json: string; html: string }> {
  return writeReportFiles(dir, report, await reportHtml(report));
}

/** Writes any demo's report: `report` as DIR/report.json, `html` as DIR/report.html. */
export async function writeReportFiles(dir: string, report: unknown, html: string): Promise<{ json: string; html: string }> {
  await mkdir(dir, { recursive: true });
  const files = { json: join(dir, 'report.json'), html: join(dir, 'report.html') };
  await writeFile(files.json, JSON.stringify(report, null, 2) + '\n');
  await writeFile(files.html, html);
  return files;
}

/**
 * report.html: one self-contained page (inline SVG and CSS, no script, no network) with
 * the training curves, the before/after table and sample conversations side by side
 * (tool calls and tool results included). `reportPage` lays out any demo's page;
 * `reportHtml` is the customer-service demo's.
 */
import type { Message } from '../core/messages.js';
import type { ReplyMetrics } from './metrics.js';
import { lineChartSvg, type CurvePoint } from './plots.js';
import type { DemoReport, DemoSample, TrainingPoint } from './report.js';

const CURVES: Array<{ key: keyof Omit<TrainingPoint, 'step'>; title: string }> = [
  { key: 'reward_mean', title: 'reward (mean)' },
  { key: 'polite_rate', title: 'polite rate' },
  { key: 'mean_words', title: 'mean words per reply' },
  { key: 'kl', title: 'KL to the base model' },
];

const ROWS: Array<{ key: keyof ReplyMetrics; label: string; digits: number }> = [
  { key: 'reward_mean', label: 'reward (mean)', digits: 3 },
  { key: 'polite_rate', label: 'polite replies', digits: 3 },
  { key: 'mean_words', label: 'words per reply', digits: 1 },
  { key: 'concise_rate', label: 'replies under 20 words', digits: 3 },
];

const STYLE = `
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: 1100px; }
.plots { display: flex; flex-wrap: wrap; gap: 1rem; }
.plots figure { margin: 0; }
table { border-collapse: collapse; margin: 1rem 0; }
td, th { border: 1px solid #ccc; padding: 0.3rem 0.8rem; text-align: right; }
td:first-child, th:first-child { text-align: left; }
.sample { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; margin-bottom: 1.5rem; }
.message { padding: 0.3rem 0.6rem; margin: 0.3rem 0; border-radius: 6px; }
.user { background: #eef3fb; }
.assistant { background: #eef8ee; }
.tool { background: #f7f1e3; font-family: ui-monospace, monospace; font-size: 0.9em; }
`;

/** What a demo's page shows. */
export interface ReportPage {
  /** The page's title (the browser's tab) and its heading. */
  title: string;
  heading: string;
  /** HTML of the paragraph under the heading (the caller escapes what it inserts). */
  summary: string;
  curves: Array<{ key: string; title: string; points: CurvePoint[] }>;
  /** The before/after table, values already formatted. */
  rows: Array<{ label: string; before: string; after: string }>;
  samples: DemoSample[];
}

export async function reportPage(page: ReportPage): Promise<string> {
  const plots = await Promise.all(
    page.curves.map(async ({ key, title, points }) => {
      const body = points.length ? await lineChartSvg(title, points) : `<p>${escapeHtml(title)}: not measured in this run.</p>`;
      return `<figure class="plot" data-metric="${escapeHtml(key)}">${body}</figure>`;
    }),
  );
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(page.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${escapeHtml(page.heading)}</h1>
<p>${page.summary}</p>
<h2>Training</h2>
<div class="plots">${plots.join('\n')}</div>
<h2>Held-out scenarios, before and after</h2>
${metricsTable(page.rows)}
<h2>Sample conversations</h2>
${page.samples.map(sampleHtml).join('\n')}
</body>
</html>
`;
}

export async function reportHtml(report: DemoReport): Promise<string> {
  return reportPage({
    title: `Customer-service demo: ${report.algorithm} on ${report.model}`,
    heading: 'Customer-service demo',
    summary:
      `Model <code>${escapeHtml(report.model)}</code>, ${escapeHtml(report.algorithm)}, ${report.steps} steps, seed ${report.seed}.\n` +
      `KL to the base model after training: ${report.kl_to_base.toFixed(4)} nats per token.`,
    curves: CURVES.map(({ key, title }) => ({ key, title, points: report.training.flatMap((p) => (p[key] === undefined ? [] : [{ step: p.step, value: p[key] }])) })),
    rows: ROWS.map(({ key, label, digits }) => ({ label, before: report.before[key].toFixed(digits), after: report.after[key].toFixed(digits) })),
    samples: report.samples,
  });
}

function metricsTable(rows: ReportPage['rows']): string {
  const cells = rows.map(({ label, before, after }) => `<tr><td>${escapeHtml(label)}</td><td>${before}</td><td>${after}</td></tr>`);
  return `<table id="before-after"><thead><tr><th></th><th>before</th><th>after</th></tr></thead><tbody>${cells.join('')}</tbody></table>`;
}

function sampleHtml(sample: DemoSample): string {
  const column = (title: string, messages: Message[]) =>
    `<div><h4>${title}</h4>${messages
      .filter((m) => m.role === 'user' || m.role === 'assistant' || m.role === 'tool')
      .map((m) => `<div class="message ${m.role}"><b>${m.role === 'tool' ? `tool${m.name ? ` (${escapeHtml(m.name)})` : ''}` : m.role}:</b> ${escapeHtml(m.content)}</div>`)
      .join('')}</div>`;
  return `<h3>${escapeHtml(sample.scenario)}</h3><div class="sample">${column('before', sample.before)}${column('after', sample.after)}</div>`;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/**
 * The order desk's report: report.json (the held-out figures before and after, per
 * intent too, the KL to the base model, sample conversations with their tool calls and
 * results, the training curves) and report.html, laid out by the demos' report page.
 */
import { reportPage, escapeHtml } from '../report-html.js';
import { writeReportFiles, type DemoSample } from '../report.js';
import { ORDER_DESK_CHECKS } from './checks.js';
import type { OrderDeskMetrics } from './evaluate.js';
import type { OrderDeskIntent } from './scenarios.js';

/** The held-out curves at one step. */
export interface OrderDeskPoint {
  step: number;
  success_rate: number;
  tool_call_accuracy: number;
  reward_mean: number;
  kl: number;
}

export interface OrderDeskReport {
  example: 'order-desk';
  model: string;
  algorithm: string;
  credit_assignment: string;
  steps: number;
  seed: number;
  before: OrderDeskMetrics;
  after: OrderDeskMetrics;
  /** Success rate per intent. */
  success_by_intent: { before: Record<OrderDeskIntent, number>; after: Record<OrderDeskIntent, number> };
  /** Mean per-token KL(trained || base) over the trained model's held-out conversations. */
  kl_to_base: number;
  samples: DemoSample[];
  training: OrderDeskPoint[];
}

const CURVES: Array<{ key: keyof Omit<OrderDeskPoint, 'step'>; title: string }> = [
  { key: 'success_rate', title: 'success rate' },
  { key: 'tool_call_accuracy', title: 'tool-call accuracy' },
  { key: 'reward_mean', title: 'reward (mean)' },
  { key: 'kl', title: 'KL to the base model' },
];

const ROWS: Array<{ key: keyof OrderDeskMetrics; label: string; digits: number }> = [
  { key: 'success_rate', label: 'success (every check passes)', digits: 3 },
  ...ORDER_DESK_CHECKS.map((key) => ({ key, label: `check: ${key}`, digits: 3 })),
  { key: 'tool_call_accuracy', label: 'tool-call accuracy', digits: 3 },
  { key: 'mean_turns', label: 'assistant messages per episode', digits: 2 },
  { key: 'reward_mean', label: 'reward (mean)', digits: 3 },
];

export function orderDeskReportHtml(report: OrderDeskReport): Promise<string> {
  const intents = Object.keys(report.success_by_intent.before) as OrderDeskIntent[];
  return reportPage({
    title: `Order-desk demo: ${report.algorithm} on ${report.model}`,
    heading: 'Order-desk demo',
    summary:
      `Model <code>${escapeHtml(report.model)}</code>, ${escapeHtml(report.algorithm)} with ${escapeHtml(report.credit_assignment)}-level credit, ${report.steps} steps, seed ${report.seed}, ` +
      `${report.before.episodes} held-out scenarios (order ids, items and wordings training never showed). ` +
      `Every check is verified against the scenario's order, not judged. KL to the base model after training: ${report.kl_to_base.toFixed(4)} nats per token.`,
    curves: CURVES.map(({ key, title }) => ({ key, title, points: report.training.map((p) => ({ step: p.step, value: p[key] })) })),
    rows: [
      ...ROWS.map(({ key, label, digits }) => ({ label, before: report.before[key].toFixed(digits), after: report.after[key].toFixed(digits) })),
      ...intents.map((intent) => ({ label: `success: ${intent}`, before: report.success_by_intent.before[intent].toFixed(3), after: report.success_by_intent.after[intent].toFixed(3) })),
    ],
    samples: report.samples,
  });
}

/** Writes DIR/report.json and DIR/report.html; returns their paths. */
export async function writeOrderDeskReport(dir: string, report: OrderDeskReport): Promise<{ json: string; html: string }> {
  return writeReportFiles(dir, report, await orderDeskReportHtml(report));
}

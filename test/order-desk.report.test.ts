// The order desk's report: report.json as given; report.html with a row per check and per
// intent, a plot per curve, and sample conversations that show tool calls and results.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { ORDER_DESK_CHECKS, writeOrderDeskReport, type OrderDeskMetrics, type OrderDeskReport } from '../src/index.js';
import { tempDir } from './helpers/tiny-model.js';

const CHROMIUM = '/usr/bin/chromium';

function metrics(success: number): OrderDeskMetrics {
  return {
    episodes: 40,
    success_rate: success,
    right_tool: success + 0.1,
    no_forbidden_action: 0.9,
    states_tool_fact: success + 0.05,
    no_hallucinated_data: 0.95,
    tool_call_accuracy: 0.7,
    mean_turns: 4.25,
    reward_mean: 2.5,
  };
}

function sampleReport(): OrderDeskReport {
  const conversation = [
    { role: 'user' as const, content: 'I want a refund for order 91234 <now>.' },
    { role: 'assistant' as const, content: '<tool_call>{"name":"lookup_order","arguments":{"id":"91234"}}</tool_call>', toolCalls: [{ id: 'call_1_0', name: 'lookup_order', arguments: { id: '91234' } }] },
    { role: 'tool' as const, content: 'Order 91234: printer, $58.20, delivered May 2, final sale.', toolCallId: 'call_1_0', name: 'lookup_order' },
    { role: 'assistant' as const, content: 'Sorry, it is final sale & cannot be refunded.' },
  ];
  return {
    example: 'order-desk',
    model: 'tiny',
    algorithm: 'grpo',
    credit_assignment: 'turn',
    steps: 4,
    seed: 3,
    before: metrics(0.2),
    after: metrics(0.5),
    success_by_intent: { before: { status: 0.3, refund: 0.2, address: 0.1, forbidden: 0.2 }, after: { status: 0.6, refund: 0.5, address: 0.4, forbidden: 0.5 } },
    kl_to_base: 0.05,
    samples: [{ scenario: 'heldout-forbidden-0', before: conversation, after: conversation }],
    training: [
      { step: 0, success_rate: 0.2, tool_call_accuracy: 0.6, reward_mean: 2.1, kl: 0 },
      { step: 2, success_rate: 0.35, tool_call_accuracy: 0.65, reward_mean: 2.3, kl: 0.02 },
      { step: 4, success_rate: 0.5, tool_call_accuracy: 0.7, reward_mean: 2.5, kl: 0.05 },
    ],
  };
}

test('report.json holds the report as given; report.html has a row per check and intent and shows tool calls and results, escaped', async () => {
  const report = sampleReport();
  const { json, html } = await writeOrderDeskReport(tempDir(), report);
  assert.deepEqual(JSON.parse(readFileSync(json, 'utf8')), report);
  const page = readFileSync(html, 'utf8');
  for (const check of ORDER_DESK_CHECKS) assert.ok(page.includes(`<td>check: ${check}</td><td>`), check);
  for (const intent of ['status', 'refund', 'address', 'forbidden']) assert.ok(page.includes(`<td>success: ${intent}</td>`), intent);
  assert.ok(page.includes('<tr><td>success (every check passes)</td><td>0.200</td><td>0.500</td></tr>'));
  assert.ok(page.includes('&lt;tool_call&gt;{&quot;name&quot;:&quot;lookup_order&quot;'), 'the tool call as the model wrote it');
  assert.ok(page.includes('<div class="message tool"><b>tool (lookup_order):</b> Order 91234: printer, $58.20, delivered May 2, final sale.</div>'));
  assert.ok(page.includes('91234 &lt;now&gt;.') && page.includes('final sale &amp; cannot'));
  assert.equal(page.match(/<figure class="plot"/g)?.length, 4);
  assert.ok(!/<script|https?:\/\/(?!www\.w3\.org)/.test(page), 'no scripts and no links to fetch');
});

test('order-desk report.html renders its plots in headless Chromium', { skip: !existsSync(CHROMIUM) && `${CHROMIUM} is missing (.ci/run installs it)` }, async () => {
  const { html } = await writeOrderDeskReport(tempDir(), sampleReport());
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'] });
  try {
    const page = await browser.newPage();
    await page.goto(pathToFileURL(html).href);
    for (const metric of ['success_rate', 'tool_call_accuracy', 'reward_mean', 'kl']) {
      const points = await page.locator(`figure[data-metric="${metric}"] g.mark-symbol path`).count();
      assert.equal(points, 3, `${metric}: one point per measured step`);
    }
    assert.equal(await page.locator('.sample .tool').count(), 2);
  } finally {
    await browser.close();
  }
});

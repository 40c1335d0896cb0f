// The demo report: report.json holds the figures; report.html renders its plots in a real
// headless Chromium with nothing fetched from the network.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { writeDemoReport, type DemoReport } from '../src/demo/report.js';
import { tempDir } from './helpers/tiny-model.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

function sampleReport(): DemoReport {
  const metrics = (reward: number, polite: number, words: number) => ({ reward_mean: reward, polite_rate: polite, mean_words: words, concise_rate: 1 - polite / 2 });
  return {
    model: 'tiny',
    algorithm: 'grpo',
    steps: 4,
    seed: 7,
    before: metrics(0.8, 0.3, 28.5),
    after: metrics(1.7, 0.9, 14.2),
    kl_to_base: 0.123,
    samples: [
      {
        scenario: 'heldout-refund-printer-0',
        before: [
          { role: 'user', content: 'I want a refund <now> & "fast".' },
          { role: 'assistant', content: 'OK. Refunds take five days.' },
        ],
        after: [
          { role: 'user', content: 'I want a refund <now> & "fast".' },
          { role: 'assistant', content: 'Thank you. Refunds take five days.' },
        ],
      },
    ],
    // KL is measured at fewer steps than the rest: its chart has fewer points.
    training: [
      { step: 1, reward_mean: 0.8, polite_rate: 0.3, mean_words: 28, kl: 0 },
      { step: 2, reward_mean: 1.1, polite_rate: 0.5, mean_words: 22 },
      { step: 3, reward_mean: 1.5, polite_rate: 0.8, mean_words: 16 },
      { step: 4, reward_mean: 1.7, polite_rate: 0.9, mean_words: 14, kl: 0.12 },
    ],
  };
}

test('report.json holds the report as given', async () => {
  const report = sampleReport();
  const { json } = await writeDemoReport(tempDir(), report);
  assert.deepEqual(JSON.parse(readFileSync(json, 'utf8')), report);
});

test('report.html escapes conversation text and has one plot per training curve', async () => {
  const { html } = await writeDemoReport(tempDir(), sampleReport());
  const page = readFileSync(html, 'utf8');
  assert.ok(page.includes('I want a refund &lt;now&gt; &amp; &quot;fast&quot;.'));
  assert.ok(!page.includes('<now>'));
  assert.equal(page.match(/<figure class="plot"/g)?.length, 4);
  assert.equal(page.match(/<svg /g)?.length, 4);
  assert.ok(!/<script|https?:\/\/(?!www\.w3\.org)/.test(page), 'no scripts and no links to fetch');
});

test('report.html renders its plots in headless Chromium without the network', { skip: !existsSync(CHROMIUM) && `${CHROMIUM} is missing (.ci/run installs it)` }, async () => {
  const { html } = await writeDemoReport(tempDir(), sampleReport());
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
  try {
    const page = await browser.newPage();
    const requested: string[] = [];
    page.on('request', (request) => requested.push(request.url()));
    await page.goto(pathToFileURL(html).href);
    assert.deepEqual(requested.filter((url) => !url.startsWith('file:')), [], 'the page fetches nothing');

    for (const metric of ['reward_mean', 'polite_rate', 'mean_words', 'kl']) {
      const figure = page.locator(`figure[data-metric="${metric}"]`);
      const line = await figure.locator('g.mark-line path').first().boundingBox();
      assert.ok(line && line.width > 50 && line.height > 10, `${metric}: the line is drawn (${JSON.stringify(line)})`);
      const points = await figure.locator('g.mark-symbol path').count();
      assert.equal(points, metric === 'kl' ? 2 : 4, `${metric}: one point per measured step`);
    }
    const cells = await page.locator('#before-after tbody tr').first().locator('td').allTextContents();
    assert.deepEqual(cells, ['reward (mean)', '0.800', '1.700']);
    assert.equal(await page.locator('.sample .assistant').count(), 2);
  } finally {
    await browser.close();
  }
});

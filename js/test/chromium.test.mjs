// The conformance checks in headless Chromium (Debian's `chromium`, driven by
// playwright-core), through the package's `browser` entry served over HTTP.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { launchChromium, report, serve } from './harness.mjs';
import { conformanceData, js } from './fixtures.mjs';

const PAGE = `<!doctype html><meta charset="utf-8"><title>phylax conformance</title>
<script type="module">
  import * as phylax from '/dist/authoring/browser.js';
  import { run } from '/test/conformance.mjs';
  const data = await (await fetch('/data.json')).json();
  window.__result = await run(phylax, data);
  window.__userAgent = navigator.userAgent;
  document.title = 'done';
</script>`;

test('chromium: conformance through the browser entry', async (t) => {
  const server = await serve({ '/dist/': join(js, 'dist'), '/test/': join(js, 'test') }, { '/index.html': PAGE, '/data.json': JSON.stringify(conformanceData()) });
  const browser = await launchChromium();
  try {
    const page = await browser.page();
    await page.goto(`${server.url}/index.html`);
    await page.waitForFunction(() => window.__result !== undefined || document.title === 'failed', null, { timeout: 120_000 }).catch(() => {});
    const result = await page.evaluate(() => window.__result);
    assert.ok(result, `no result; page errors: ${page.errors.join(' | ')}`);
    assert.match(await page.evaluate(() => window.__userAgent), /HeadlessChrome|Chrome\//);
    await report(t, result);
  } finally {
    await browser.close();
    await server.close();
  }
});

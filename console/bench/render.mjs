// The console's audit page over a 100,000-event chain, in Debian's Chromium: how long
// from "Apply filters" to the page of rows on screen, and the longest main-thread task
// meanwhile (a `PerformanceObserver` for `longtask`: tasks of 50 ms and more freeze the
// page). Part of `bench/run` (area `console`, after audit.mjs); adds `render` to its
// JSON. Not a test: it asserts nothing about time.
//
// Usage: node console/bench/render.mjs --json FILE [--quick]
//   PHYLAX_BIN defaults to $CARGO_TARGET_DIR/release/phylax (it embeds console/dist).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const args = process.argv.slice(2);
const opt = (name) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const quick = args.includes('--quick');
const out = opt('--json');
const target = process.env.CARGO_TARGET_DIR ?? join(homedir(), '.cache', 'phylax', 'target');
const bin = process.env.PHYLAX_BIN ?? join(target, 'release', 'phylax');
const ROUNDS = quick ? 5 : 30;
const ADMIN = `bench-admin-${process.pid}-${Date.now()}`;

const dir = mkdtempSync(join(tmpdir(), 'phylax-render-bench-'));
const child = spawn(bin, ['serve', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'data'),
  '--rate-limit-burst', '10000000', '--rate-limit-per-second', '1000000'], {
  env: { ...process.env, PHYLAX_ADMIN_TOKEN: ADMIN, PHYLAX_ROOT_KEY: 'BiOxd2NOIkZVKkBFwimZKP6iCHXGOVrbvVSijHorDRE', RUST_LOG: 'warn' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const base = (await new Promise((resolve) => createInterface({ input: child.stdout }).once('line', resolve)))
  .replace('phylax listening on ', '').trim();

async function call(method, path, { token = ADMIN, body, headers = {} } = {}) {
  const r = await fetch(base + path, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = await r.json();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(json)}`);
  return json.ok;
}

const profile = mkdtempSync(join(tmpdir(), 'phylax-render-chromium-'));
let context;
try {
  await call('POST', '/v1/tenants', { body: { id: 'bench' } });
  const { apiKey } = await call('POST', '/v1/tenants/bench/api-keys', {
    body: { scopes: ['audit:write', 'audit:read'] }, headers: { 'x-phylax-break-glass': 'render benchmark' },
  });
  const now = Math.floor(Date.now() / 1000);
  for (let b = 0; b < 100; b++) {
    const events = Array.from({ length: 1000 }, (_, j) => {
      const i = b * 1000 + j;
      return {
        tenant: 'bench', actor: { id: `user:u${i % 500}`, role: ['staff', 'provider'][i % 2], sourceIp: `10.2.${i % 50}.1` },
        action: i % 5 ? 'view' : 'update', operation: 'chart.read', record: { type: 'Patient', id: `p${i % 10_000}` },
        time: now - 3000 + Math.floor((i * 3000) / 100_000), outcome: i % 100 ? 'success' : 'denied',
        ...(i % 5 ? {} : { changedFields: ['diagnosis', 'notes'] }),
      };
    });
    await call('POST', '/v1/tenants/bench/audit/events', { token: apiKey, body: { events } });
  }

  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = await context.newPage();
  if (process.env.DEBUG_RENDER) { page.on("console", (m) => console.log("console:", m.text())); page.on("crash", () => console.log("CRASH")); page.on("close", () => console.log("CLOSED")); page.on("framenavigated", (f) => console.log("nav", f.url())); }
  await page.addInitScript(() => {
    window.__longTasks = [];
    new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__longTasks.push(e.duration); })
      .observe({ type: 'longtask', buffered: true });
  });
  await page.goto(`${base}/console/`);
  await page.getByLabel('Credential').fill(apiKey);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#whoami').waitFor();
  await page.getByRole('navigation').getByRole('link', { name: 'Audit', exact: true }).click();
  await page.locator('#audit-table').waitFor();
  await page.waitForFunction(() => document.querySelectorAll('#audit-rows tr').length === 50);
  await page.evaluate(() => { window.__longTasks = []; });
  const shown = [];
  let rows = 0;
  for (let i = 0; i < ROUNDS; i++) {
    const actor = `user:u${1 + ((i * 37) % 98)}`; // never a multiple of 100: some success
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await page.getByLabel('Actor', { exact: true }).fill(actor);
    await page.getByLabel('Outcome', { exact: true }).selectOption('success');
    // Timed in the page: from the click (a capturing listener notes the time) to the
    // first animation frame whose table shows that actor's rows.
    await page.evaluate(() => {
      document.addEventListener('click', () => { window.__t0 = performance.now(); }, { capture: true, once: true });
    });
    await page.getByRole('button', { name: 'Apply filters' }).click();
    const ms = await (await page.waitForFunction((who) => {
      const first = document.querySelector('#audit-rows tr');
      return first && first.textContent.includes(who) ? performance.now() - window.__t0 : false;
    }, actor, { polling: 'raf', timeout: 30_000 })).jsonValue();
    shown.push(ms);
    rows = await page.locator('#audit-rows tr').count();
  }
  const longTasks = await page.evaluate(() => window.__longTasks);
  const sorted = [...shown].sort((a, b) => a - b);
  const render = {
    rounds: ROUNDS, rows, medianShowMs: sorted[Math.floor(sorted.length / 2)], maxShowMs: sorted[sorted.length - 1],
    longTasks: longTasks.length, longestTaskMs: longTasks.length ? Math.max(...longTasks) : 0,
  };
  console.log(`render: ${rows} rows shown, median ${render.medianShowMs.toFixed(0)} ms, slowest ${render.maxShowMs.toFixed(0)} ms; long tasks ${render.longTasks} (longest ${render.longestTaskMs.toFixed(0)} ms)`);
  if (out) {
    const prev = JSON.parse(readFileSync(out, 'utf8'));
    writeFileSync(out, JSON.stringify({ ...prev, render }, null, 2));
  }
} finally {
  await context?.close();
  child.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
  rmSync(profile, { recursive: true, force: true });
}

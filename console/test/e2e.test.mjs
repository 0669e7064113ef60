// The admin console end to end, in Debian's Chromium against a real `phylax serve`:
// every flow is driven through the page and checked by what the page shows, and the
// server's own answers (through the API, from Node) are the reference.
//
//   node --test console/test/
//
// The server binary: PHYLAX_BIN, else ${CARGO_TARGET_DIR:-~/.cache/phylax/target}/debug/phylax.
// It serves the console it embedded when it was built; with PHYLAX_CONSOLE_DIR set in the
// environment (debug builds), the server is pointed at console/dist instead.
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const consoleDir = join(here, '..');
const require = createRequire(import.meta.url);

const ADMIN_TOKEN = `admin-${Math.random().toString(36).slice(2)}-console-e2e-token`;
const ROOT_KEY = 'BiOxd2NOIkZVKkBFwimZKP6iCHXGOVrbvVSijHorDRE';
const TENANT = 'acme';
const REASON = 'INC-4711 console end-to-end check';
const BIN = process.env.PHYLAX_BIN ?? join(process.env.CARGO_TARGET_DIR ?? join(homedir(), '.cache', 'phylax', 'target'), 'debug', 'phylax');
const SHOTS = process.env.PHYLAX_SCREENSHOT_DIR ?? join(tmpdir(), 'phylax-console-screenshots');

let server; // { url, dataDir, proc }
let browser; // { context, close }
let page;
const pageErrors = [];
/** Failed requests a step provokes on purpose: `{ status, path }`, each allowed once. */
const expectedFailures = [];

// ── The server ─────────────────────────────────────────────────────────────

async function startServer() {
  const dataDir = mkdtempSync(join(tmpdir(), 'phylax-console-data-'));
  const env = {
    ...process.env,
    PHYLAX_ADMIN_TOKEN: ADMIN_TOKEN,
    PHYLAX_ROOT_KEY: ROOT_KEY,
    RUST_LOG: 'warn',
  };
  delete env.PHYLAX_CONSOLE_DIR;
  if (process.env.PHYLAX_CONSOLE_DIR !== undefined) env.PHYLAX_CONSOLE_DIR = join(consoleDir, 'dist');
  const proc = spawn(BIN, ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--auth-failure-burst', '1000000'], {
    env, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`the server did not start in 30 s: ${stderr}`)), 30_000);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /phylax listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (${code}): ${stderr}`));
    });
    proc.on('error', reject);
  });
  return { url, dataDir, proc };
}

/** A JSON call from Node: `{ status, body }` (body: the `ok` value, the error, or the raw body). */
async function call(method, path, { token = ADMIN_TOKEN, body, breakGlass, headers = {} } = {}) {
  const h = { authorization: `Bearer ${token}`, ...headers };
  if (body !== undefined) h['content-type'] = 'application/json';
  if (breakGlass) h['x-phylax-break-glass'] = breakGlass;
  const res = await fetch(server.url + path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    return { status: res.status, body: text };
  }
  return { status: res.status, body: json && typeof json === 'object' && 'ok' in json ? json.ok : json };
}

async function ok(method, path, opts) {
  const r = await call(method, path, opts);
  assert.ok(r.status >= 200 && r.status < 300, `${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

// ── The browser ────────────────────────────────────────────────────────────

/** Debian's Chromium, as js/test/harness.mjs launches it (persistent context, headless). */
async function launchChromium() {
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'phylax-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
    timeout: 60_000,
    acceptDownloads: true,
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Polls `fn` until it returns a truthy value (returned), or fails with `what`. */
async function until(what, fn, timeout = 10_000) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits until the element's text matches `re`; returns the text. */
async function textMatches(selector, re, timeout = 10_000) {
  return until(`${selector} to match ${re}`, async () => {
    const t = await page.locator(selector).first().textContent({ timeout: 500 });
    return t !== null && re.test(t) ? t : false;
  }, timeout);
}

async function alertText() {
  return (await page.locator('#alert').textContent()) ?? '';
}

/** Fails on any CSP violation, page error or unexpected console error so far. */
async function checkClean(where) {
  const csp = await page.evaluate(() => window.__cspViolations ?? []);
  assert.deepEqual(csp, [], `CSP violations on ${where}: ${JSON.stringify(csp)}`);
  assert.deepEqual(pageErrors, [], `page or console errors on ${where}`);
}

/** axe-core on the page: no serious or critical violation. */
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
async function checkA11y(where) {
  // Evaluated through the devtools protocol: not an inline script, so not subject to the CSP.
  await page.evaluate(AXE);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const minor = result.violations.filter((v) => !bad.includes(v));
  if (minor.length) console.log(`axe, ${where}: ${minor.map((v) => `${v.impact} ${v.id}`).join(', ')}`);
  assert.deepEqual(bad.map((v) => `${v.impact} ${v.id}: ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), [],
    `accessibility violations on ${where}`);
  await checkClean(`${where} (after axe)`);
}

async function shot(name) {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** A page of the console through its navigation link, once its heading shows. */
async function open(route, heading) {
  const link = page.getByRole('navigation').getByRole('link', { name: heading, exact: true });
  assert.equal(await link.getAttribute('href'), `#/${route}`);
  await link.click();
  await page.getByRole('heading', { level: 2, name: heading }).waitFor({ timeout: 10_000 });
  assert.equal(await link.getAttribute('aria-current'), 'page');
}

async function signIn(credential) {
  await page.getByRole('heading', { level: 2, name: 'Sign in' }).waitFor();
  const input = page.getByLabel('Credential');
  await input.fill(credential);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#whoami').waitFor({ timeout: 10_000 });
  assert.equal(await input.count() === 0 ? '' : await input.inputValue(), '', 'the credential field is cleared');
}

async function signOut() {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { level: 2, name: 'Sign in' }).waitFor();
}

// ── Fixtures shared by the steps ───────────────────────────────────────────

const state = {
  appKey: '', // audit:write, audit:read, authorize, transit:* (made through the API)
  auditorKey: '', // audit:read only: a tenant console user
  firstSeq: 0,
  lastSeq: 0,
  events: [], // { seq, actor, outcome, action, changedFields }
};

before(async () => {
  server = await startServer();
  browser = await launchChromium();
  await browser.context.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cspViolations.push({ directive: e.violatedDirective, blocked: e.blockedURI, sample: e.sample, source: e.sourceFile, line: e.lineNumber });
    });
  });
  page = await browser.context.newPage();
  page.on('pageerror', (e) => pageErrors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const at = m.location()?.url ?? '';
    // Asking whether a session exists is answered 401 before sign-in: expected, and the
    // browser logs every failed request. Nothing else may fail.
    if (/status of 401/.test(m.text()) && /\/v1\/session$/.test(at)) return;
    const i = expectedFailures.findIndex((f) => m.text().includes(`status of ${f.status}`) && new URL(at).pathname === f.path);
    if (i >= 0) {
      expectedFailures.splice(i, 1);
      return;
    }
    pageErrors.push(`console.error: ${m.text()} (${at})`);
  });
  mkdirSync(SHOTS, { recursive: true });
  console.log(`screenshots: ${SHOTS}`);
});

after(async () => {
  await browser?.close();
  if (server) {
    server.proc.kill('SIGTERM');
    await new Promise((r) => (server.proc.exitCode !== null ? r() : server.proc.once('exit', r)));
    rmSync(server.dataDir, { recursive: true, force: true });
  }
});

// ── The flows, in order (each builds on the one before) ────────────────────

/** A step of the walk: skipped once an earlier one failed (it builds on them). */
let failedStep = null;
function step(name, fn) {
  test(name, async (t) => {
    if (failedStep) {
      t.skip(`after the failure of: ${failedStep}`);
      return;
    }
    try {
      await fn(t);
    } catch (err) {
      failedStep = name;
      if (page) await page.screenshot({ path: join(SHOTS, `failed-${name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60)}.png`), fullPage: true }).catch(() => {});
      throw err;
    }
  });
}

step('serves the console with its security headers', async () => {
  const res = await fetch(`${server.url}/console/`);
  assert.equal(res.status, 200);
  const csp = res.headers.get('content-security-policy') ?? '';
  assert.match(csp, /script-src 'self' 'wasm-unsafe-eval'/);
  assert.match(csp, /style-src 'self'/);
  const html = await res.text();
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');
  assert.doesNotMatch(html, /<style|style=/, 'no inline style');
});

step('sign in as the platform admin; no secret reaches script-readable storage', async () => {
  await page.goto(`${server.url}/console/`);
  await page.getByRole('heading', { level: 2, name: 'Sign in' }).waitFor();
  // The CSP detector works: an inline script is blocked and reported (then forgotten).
  await page.evaluate(() => {
    const s = document.createElement('script');
    s.textContent = 'window.__inlineRan = true';
    document.head.append(s);
  });
  await until('the inline script to be reported', () => page.evaluate(() => window.__cspViolations.length === 1 && window.__inlineRan === undefined));
  await until('the console error', () => pageErrors.some((e) => /Content Security Policy/.test(e)));
  await page.evaluate(() => { window.__cspViolations = []; });
  pageErrors.length = 0;
  await checkA11y('sign-in');
  await shot('01-sign-in');
  // A wrong credential: the server's refusal is shown, and the field is cleared.
  await page.getByLabel('Credential').fill('not-the-admin-token-at-all');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await textMatches('#alert', /^auth\.\w+: /);
  assert.equal(await page.getByLabel('Credential').inputValue(), '');
  assert.equal(await page.locator('#whoami').count(), 0);
  await signIn(ADMIN_TOKEN);
  assert.equal(await alertText(), '', 'the error is gone once signed in');
  assert.equal(await page.locator('#whoami-actor').textContent(), 'platform-admin');
  assert.equal(await page.locator('#whoami-kind').textContent(), 'platform admin');

  const cookies = await browser.context.cookies(server.url);
  const session = cookies.find((c) => c.name === 'phylax_session');
  assert.ok(session, `a phylax_session cookie: ${JSON.stringify(cookies.map((c) => c.name))}`);
  assert.equal(session.httpOnly, true, 'HttpOnly');
  assert.equal(session.sameSite, 'Strict', 'SameSite=Strict');
  // The session's CSRF token, as the page got it (GET /v1/session with the cookie).
  const csrf = (await (await fetch(`${server.url}/v1/session`, { headers: { cookie: `phylax_session=${session.value}` } })).json()).ok.csrf;
  assert.ok(csrf);
  const readable = await page.evaluate(() => JSON.stringify({
    local: Object.entries(localStorage), session: Object.entries(sessionStorage), cookie: document.cookie,
  }));
  for (const secret of [ADMIN_TOKEN, csrf, session.value, 'phylax_session']) {
    assert.ok(!readable.includes(secret), `script-readable storage holds a secret: ${readable}`);
  }
  await checkClean('sign-in');
});

step('tenants: create a tenant in the UI and open it', async () => {
  await open('tenants', 'Tenants');
  await page.getByLabel('Tenant id').fill(TENANT);
  await page.getByRole('button', { name: 'Create tenant' }).click();
  await page.getByRole('button', { name: `Open tenant ${TENANT}` }).waitFor();
  const info = await ok('GET', `/v1/tenants/${TENANT}`);
  assert.equal(info.state, 'active');
  await checkA11y('tenants');
  await shot('02-tenants');

  // A second tenant through its whole lifecycle: offboard, cancel, offboard, shred (typed confirmation).
  const SCRATCH = 'scratch';
  const stateOf = (id) => page.locator('#tenant-list tr').filter({ has: page.getByRole('button', { name: `Open tenant ${id}` }) }).locator('td').nth(1);
  await page.getByLabel('Tenant id').fill(SCRATCH);
  await page.getByRole('button', { name: 'Create tenant' }).click();
  await until('scratch active', async () => (await stateOf(SCRATCH).textContent()) === 'active');
  // The header's tenant picker offers the new tenant at once.
  await until('the picker to list scratch', async () => (await page.getByRole('combobox', { name: 'Tenant', exact: true }).locator('option').allTextContents()).includes(SCRATCH));
  await page.getByRole('button', { name: `Offboard tenant ${SCRATCH}` }).click();
  await until('scratch offboarding', async () => /^offboarding/.test(await stateOf(SCRATCH).textContent()));
  await page.getByRole('button', { name: `Cancel offboarding of tenant ${SCRATCH}` }).click();
  await until('scratch active again', async () => (await stateOf(SCRATCH).textContent()) === 'active');
  await page.getByRole('button', { name: `Offboard tenant ${SCRATCH}` }).click();
  await until('scratch offboarding again', async () => /^offboarding/.test(await stateOf(SCRATCH).textContent()));
  await page.getByRole('button', { name: `Shred tenant ${SCRATCH}` }).click();
  const shred = page.getByRole('button', { name: 'Shred tenant', exact: true });
  await page.getByLabel(`Type ${SCRATCH} to confirm`).fill('scratc');
  assert.equal(await shred.isDisabled(), true, 'shredding waits for the exact tenant id');
  await page.getByLabel(`Type ${SCRATCH} to confirm`).fill(SCRATCH);
  await shred.click();
  await until('scratch shredded', async () => (await stateOf(SCRATCH).textContent()) === 'shredded');
  assert.equal((await ok('GET', `/v1/tenants/${SCRATCH}`)).state, 'shredded');

  await page.getByRole('button', { name: `Open tenant ${TENANT}` }).click();
  await page.getByRole('heading', { level: 2, name: 'Audit' }).waitFor();
  await checkClean('tenants');
});

step('api keys: create, use, rotate with no overlap, revoke', async () => {
  // Keys the later steps use, made through the API (a data scope needs break-glass).
  state.appKey = (await ok('POST', `/v1/tenants/${TENANT}/api-keys`, {
    breakGlass: REASON,
    body: { name: 'app', scopes: ['audit:write', 'audit:read', 'authorize', 'transit:encrypt', 'transit:decrypt'] },
  })).apiKey;
  state.auditorKey = (await ok('POST', `/v1/tenants/${TENANT}/api-keys`, {
    breakGlass: REASON, body: { name: 'auditor', scopes: ['audit:read'] },
  })).apiKey;

  await open('api-keys', 'API keys');
  await page.getByLabel('Name', { exact: true }).fill('reporting');
  await page.getByLabel('policies:read', { exact: true }).check();
  await page.getByLabel('tenant:read', { exact: true }).check();
  await page.getByRole('button', { name: 'Create key' }).click();
  const secretField = page.locator('#new-secret');
  await secretField.waitFor();
  const secret = await secretField.inputValue();
  assert.match(secret, /^phx_live_/);
  await page.getByText('Shown only this once.').waitFor();
  await checkA11y('api keys (secret shown)');
  await shot('03-api-keys');

  // The key works from Node.
  const use = (key) => call('GET', `/v1/tenants/${TENANT}/policies`, { token: key });
  assert.equal((await use(secret)).status, 200);
  const keyId = (await ok('GET', `/v1/tenants/${TENANT}/api-keys`)).find((k) => k.name === 'reporting').keyId;
  assert.equal(await page.locator(`[data-key-state="${keyId}"]`).textContent(), 'active');

  // Rotate with no overlap: the old secret is refused at once, the new one works.
  await page.getByRole('button', { name: `Rotate key ${keyId}` }).click();
  await page.getByLabel('Overlap (seconds)').fill('0');
  await page.getByRole('button', { name: 'Rotate key', exact: true }).click();
  const rotated = await until('a new secret', async () => {
    const v = await page.locator('#new-secret').inputValue();
    return v !== secret && v.startsWith('phx_live_') ? v : false;
  });
  assert.equal((await use(secret)).status, 401, 'the old key is refused after a rotation without overlap');
  assert.equal((await use(rotated)).status, 200, 'the new key works');

  // Revoke the new key (with its confirm step): refused.
  const newId = (await ok('GET', `/v1/tenants/${TENANT}/api-keys`)).find((k) => k.name === 'reporting' && !k.replacedBy && !k.revokedAt)?.keyId
    ?? (await ok('GET', `/v1/tenants/${TENANT}/api-keys`)).find((k) => k.keyId !== keyId && k.name === 'reporting').keyId;
  await textMatches(`[data-key-state="${keyId}"]`, new RegExp(`^replaced by ${newId}$`));
  await page.getByRole('button', { name: `Revoke key ${newId}` }).click();
  await page.getByRole('button', { name: 'Confirm revoke' }).click();
  await textMatches(`[data-key-state="${newId}"]`, /^revoked/);
  assert.equal((await use(rotated)).status, 401, 'a revoked key is refused');

  // Leaving the page forgets the secret.
  await open('keys', 'Keys');
  assert.equal(await page.locator('#new-secret').count(), 0);
  await checkClean('api keys');
});

function makeEvents(n, now) {
  const actors = ['alice', 'bob', 'carol', 'dave'];
  const actions = ['view', 'create', 'update', 'delete', 'export'];
  return Array.from({ length: n }, (_, i) => {
    const action = actions[i % 5];
    const outcome = i % 7 === 0 ? 'denied' : i % 11 === 0 ? 'failure' : 'success';
    return {
      tenant: TENANT,
      actor: { id: actors[i % 4], role: i % 2 ? 'staff' : 'provider', sourceIp: `10.0.0.${i % 4 + 1}` },
      action,
      operation: `records.${action}`,
      record: { type: 'patient', id: `p-${i % 13}` },
      time: now - 60 + Math.floor(i / 10),
      outcome,
      ...(action === 'update' ? { changedFields: ['diagnosis', 'allergies'] } : {}),
    };
  });
}

/** The seqs shown in the audit table, in order. */
async function shownSeqs() {
  return page.locator('#audit-rows tr').evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-seq'))));
}

async function applyFilters(values) {
  await page.getByRole('button', { name: 'Clear filters' }).click();
  for (const [label, value] of Object.entries(values)) {
    const control = page.getByLabel(label, { exact: true });
    if ((await control.evaluate((el) => el.tagName)) === 'SELECT') await control.selectOption(value);
    else await control.fill(value);
  }
  await page.getByRole('button', { name: 'Apply filters' }).click();
}

async function waitForPage(expectedSeqs) {
  await until(`the rows ${expectedSeqs.slice(0, 3)}…`, async () => JSON.stringify(await shownSeqs()) === JSON.stringify(expectedSeqs));
}

step('audit: break-glass, filters, newest first, paging, changed fields', async () => {
  const now = Math.floor(Date.now() / 1000);
  const events = makeEvents(300, now);
  const appended = await ok('POST', `/v1/tenants/${TENANT}/audit/events`, { token: state.appKey, body: { events } });
  assert.equal(appended.appended, 300);
  state.firstSeq = appended.firstSeq;
  state.lastSeq = appended.lastSeq;
  state.events = events.map((e, i) => ({ ...e, seq: appended.firstSeq + i }));

  // A fresh page load: the console remembers no tenant and no break-glass reason.
  await page.reload();
  await page.locator('#whoami').waitFor();
  await page.getByRole('combobox', { name: 'Tenant', exact: true }).selectOption(TENANT);
  await open('audit', 'Audit');
  // Nothing of the tenant's data loads before the reason is given, and the notice says it is recorded.
  assert.equal(await page.locator('#audit-table').count(), 0);
  await page.getByText('recorded in the tenant\'s audit chain').first().waitFor();
  await checkA11y('audit (break-glass)');
  await page.getByLabel('Break-glass reason').fill(REASON);
  await page.getByRole('button', { name: 'Use this reason' }).click();
  await page.locator('#audit-table').waitFor();
  await until('the first page', async () => (await shownSeqs()).length === 50);
  const first = await shownSeqs();
  assert.ok(first.every((s, i) => i === 0 || s < first[i - 1]), 'newest first');
  await shot('04-audit');

  // Filter: actor alice, outcome success: exactly the expected rows, 50 a page, newest first.
  const expected = state.events.filter((e) => e.actor.id === 'alice' && e.outcome === 'success').map((e) => e.seq).reverse();
  assert.ok(expected.length > 50 && expected.length <= 100, `${expected.length} expected rows span two pages`);
  await applyFilters({ Actor: 'alice', Outcome: 'success' });
  await waitForPage(expected.slice(0, 50));
  assert.match(await page.locator('#audit-page-info').textContent(), /^Page 1: 50 events/);
  await page.getByRole('button', { name: 'Next page' }).click();
  await waitForPage(expected.slice(50));
  assert.match(await page.locator('#audit-page-info').textContent(), /^Page 2: /);
  assert.equal(await page.getByRole('button', { name: 'Next page' }).isDisabled(), true, 'no third page');
  await page.getByRole('button', { name: 'Previous page' }).click();
  await waitForPage(expected.slice(0, 50));
  // Every row shown says what the filter asked for.
  const cells = await page.locator('#audit-rows tr').evaluateAll((rows) => rows.map((r) => [r.cells[2].textContent, r.cells[7].textContent]));
  assert.ok(cells.every(([actor, outcome]) => actor === 'alice' && outcome === 'success'));

  // A time window (datetime-local, the browser's time zone, to the second), with an actor.
  const local = (secs) => {
    const d = new Date(secs * 1000);
    const p = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  };
  const from = state.events[100].time;
  const to = state.events[180].time;
  const inWindow = state.events.filter((e) => e.actor.id === 'dave' && e.time >= from && e.time <= to).map((e) => e.seq).reverse();
  assert.ok(inWindow.length > 0 && inWindow.length < 50);
  await applyFilters({ Actor: 'dave', From: local(from), To: local(to) });
  await waitForPage(inWindow);

  // Changed fields are shown (names only).
  const updates = state.events.filter((e) => e.actor.id === 'bob' && e.action === 'update' && e.outcome === 'denied').map((e) => e.seq).reverse();
  assert.ok(updates.length > 0);
  await applyFilters({ Actor: 'bob', Action: 'update', Outcome: 'denied' });
  await waitForPage(updates);
  const changed = await page.locator('#audit-rows td.changed').allTextContents();
  assert.deepEqual(changed, updates.map(() => 'diagnosis, allergies'));
  await page.getByText('diagnosis, allergies').first().waitFor({ state: 'visible' });

  // The break-glass access itself is in the chain, with the reason.
  await applyFilters({ Actor: 'platform-admin' });
  await until('a break-glass row with the reason', async () => {
    const rows = await page.locator('#audit-rows tr').evaluateAll((rs) => rs.map((r) => ({ op: r.cells[6].textContent, reason: r.cells[10].textContent })));
    return rows.some((r) => r.reason === REASON);
  });
  await checkA11y('audit');
  await checkClean('audit');
});

step('audit: export CSV of a filtered view', async () => {
  await applyFilters({ Actor: 'carol', Outcome: 'failure' });
  const expected = state.events.filter((e) => e.actor.id === 'carol' && e.outcome === 'failure').map((e) => e.seq);
  await waitForPage([...expected].reverse());
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Export CSV' }).click(),
  ]);
  const path = await download.path();
  const lines = readFileSync(path, 'utf8').trim().split(/\r?\n/);
  assert.equal(lines[0], 'seq,time,actor,role,sourceIp,action,operation,outcome,recordType,recordId,changedFields,reason,hash');
  const rows = lines.slice(1).map((l) => l.split(','));
  assert.deepEqual(rows.map((r) => Number(r[0])), expected, 'the filtered view, oldest first');
  assert.ok(rows.every((r) => r[2] === 'carol' && r[7] === 'failure'));
  assert.match(download.suggestedFilename(), /\.csv$/);
  // The same view as JSON Lines: one AuditRecord a line.
  const [jsonl] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Export JSON Lines' }).click(),
  ]);
  const records = readFileSync(await jsonl.path(), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(records.map((r) => r.seq), expected);
  assert.ok(records.every((r) => r.event.actor.id === 'carol' && r.event.outcome === 'failure'));
  await checkClean('audit export');
});

step('policies: validation as you type, playground against draft and published, publish, diff', async () => {
  await open('policies', 'Policies');
  const editor = page.getByLabel(/^Policy text/);
  await editor.waitFor();
  await textMatches('#policy-validation', /Valid|Invalid/, 20_000); // the engine loaded
  await checkA11y('policies');

  // A syntax error: the diagnostic names file, line and column.
  const bad = '@id("acme-staff-delete")\npermit (principal in Role::"staff", action == Action::"delete", resource)\nwhen { principal.tenant == resource.tenant && bogus };\n';
  await editor.fill(bad);
  const col = bad.split('\n')[2].indexOf('bogus') + 1;
  const diag = await textMatches('#policy-diagnostics', /acme\.cedar:\d+:\d+: /);
  assert.match(diag, new RegExp(`acme\\.cedar:3:${col}: `), diag);
  // The server refuses the same text with the same place.
  const refused = await call('PUT', `/v1/tenants/${TENANT}/policies`, { body: { policies: [{ name: 'acme.cedar', text: bad }] } });
  assert.equal(refused.status, 400);
  assert.match(refused.body.error.message, new RegExp(`acme\\.cedar:3:${col}: `));
  // The playground shows the package's error for the draft (a PhylaxError), and still decides the published version.
  await page.getByRole('button', { name: 'Decide' }).click();
  await textMatches('#draft-decision', /^error$/);
  await textMatches('#draft-errors', /^policy\.parse_failed: .*acme\.cedar:3:/);
  await textMatches('#published-decision', /^deny$/);
  // Publishing it from the page shows the server's error; the draft stays as typed.
  expectedFailures.push({ status: 400, path: `/v1/tenants/${TENANT}/policies` });
  await page.getByRole('button', { name: 'Publish', exact: true }).click();
  const alert = await textMatches('#alert', /policy\.parse_failed: /);
  assert.match(alert, new RegExp(`acme\\.cedar:3:${col}: `));
  assert.equal(await editor.inputValue(), bad);
  await page.getByRole('button', { name: 'Dismiss' }).click();

  // Fixed: valid.
  const good = '@id("acme-staff-delete")\npermit (principal in Role::"staff", action == Action::"delete", resource)\nwhen { principal.tenant == resource.tenant };\n';
  await editor.fill(good);
  await textMatches('#policy-validation', /^Valid/);

  // The playground: staff ann deletes rec-1; the draft allows it, the published version (none yet) denies.
  await page.getByRole('button', { name: 'Decide' }).click();
  await textMatches('#draft-decision', /^allow$/);
  await textMatches('#published-decision', /^deny$/);
  assert.match(await page.locator('#draft-policies').textContent(), /acme-staff-delete/);
  const request = JSON.parse(await page.locator('#playground-request').inputValue());
  const before = await ok('POST', '/v1/authorize', { token: state.appKey, body: request });
  assert.equal(before.decision, 'deny', 'the server agrees with the published column before publishing');
  await shot('05-policies-playground');

  // Publish: version 1; the published column and the server now allow.
  await page.getByRole('button', { name: 'Publish', exact: true }).click();
  await textMatches('#status', /Published version 1/);
  await page.locator('#policy-version-table tbody tr').first().waitFor();
  assert.deepEqual(await page.locator('#policy-version-table tbody tr td:first-child').allTextContents(), ['1']);
  await page.getByRole('button', { name: 'Decide' }).click();
  await textMatches('#published-decision', /^allow$/);
  const afterPublish = await ok('POST', '/v1/authorize', { token: state.appKey, body: request });
  // The PUT's answer promises its own node decides with the new version at once.
  assert.equal(afterPublish.decision, (await page.locator('#draft-decision').textContent()).trim(),
    `the browser's draft decided as the server does right after the publish (server: ${JSON.stringify(afterPublish)})`);
  assert.deepEqual(afterPublish.policies, (await page.locator('#published-policies').textContent()).split(', '));

  // A second version with one more policy; the diff between 1 and 2 shows the added lines.
  const added = '@id("acme-owner-export")\npermit (principal in Role::"owner", action == Action::"export", resource)\nwhen { principal.tenant == resource.tenant };\n';
  await editor.fill(good + added);
  await textMatches('#policy-validation', /^Valid/);
  await page.getByRole('button', { name: 'Publish', exact: true }).click();
  await textMatches('#status', /Published version 2/);
  await until('two versions', async () => (await page.locator('#policy-version-table tbody tr').count()) === 2);
  await page.getByLabel('From version').selectOption('1');
  await page.getByLabel('To version').selectOption('2');
  await page.getByRole('button', { name: 'Show diff' }).click();
  const adds = await until('added lines', async () => {
    const t = await page.locator('#policy-diff .diff-add').allTextContents();
    return t.length ? t : false;
  });
  assert.ok(adds.some((l) => l.includes('@id("acme-owner-export")') && l.startsWith('+')), JSON.stringify(adds));
  assert.equal(await page.locator('#policy-diff .diff-del').count(), 0);
  await checkA11y('policies (diff)');
  await shot('05-policies-diff');
  await checkClean('policies');
});

step('keys: rotate the data key, rewrap older ciphertexts', async () => {
  const plain = ['J45.909 asthma', 'E11.9 diabetes', 'I10 hypertension'];
  const lines = [];
  for (const [i, plaintext] of plain.entries()) {
    const body = { field: 'patients.diagnosis', recordId: `rec-${i}`, plaintext };
    const { ciphertext } = await ok('POST', `/v1/tenants/${TENANT}/transit/encrypt`, { token: state.appKey, body });
    lines.push({ field: body.field, recordId: body.recordId, ciphertext });
  }
  await open('keys', 'Keys');
  const v0 = Number((await textMatches('#data-key-version', /^v\d+$/)).slice(1));
  await page.getByRole('button', { name: 'Rotate data key' }).click();
  await textMatches('#data-key-version', new RegExp(`^v${v0 + 1}$`));
  assert.equal((await ok('GET', `/v1/tenants/${TENANT}`)).activeKeyVersion, v0 + 1);

  await page.getByLabel('Ciphertexts (JSON Lines)').fill(lines.map((l) => JSON.stringify(l)).join('\n'));
  const reason = page.getByLabel('Break-glass reason');
  if (await reason.count()) await reason.fill(REASON);
  await page.getByRole('button', { name: 'Rewrap' }).click();
  await textMatches('#rewrap-count', /^3\/3$/, 20_000);
  assert.equal(await page.locator('#rewrap-rewrapped').textContent(), '3');
  assert.equal(await page.locator('#rewrap-current').textContent(), '0');
  assert.equal(await page.locator('#rewrap-failed').textContent(), '0');
  assert.equal(await page.locator('#rewrap-progress').evaluate((p) => `${p.value}/${p.max}`), '3/3');
  const out = (await page.locator('#rewrap-output').inputValue()).trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(out.length, 3);
  for (const [i, line] of out.entries()) {
    assert.equal(line.recordId, lines[i].recordId);
    assert.notEqual(line.ciphertext, lines[i].ciphertext);
    const { plaintext } = await ok('POST', `/v1/tenants/${TENANT}/transit/decrypt`, { token: state.appKey, body: line });
    assert.equal(plaintext, plain[i]);
    const { needsRewrap } = await ok('POST', `/v1/tenants/${TENANT}/transit/needs-rewrap`, { token: state.appKey, body: line });
    assert.equal(needsRewrap, false);
  }
  await checkA11y('keys');
  await shot('06-keys');
  await checkClean('keys');
});

step('audit: verify the chain, then find a tampered record', async () => {
  await open('audit', 'Audit');
  await page.locator('#audit-table').waitFor();
  // The page's answer is the head of the chain as the server verifies it right after
  // (an API key's verify appends nothing); the admin's own request added its break-glass record.
  const before = (await ok('POST', `/v1/tenants/${TENANT}/audit/verify`, { token: state.appKey, body: {} })).head.seq;
  await page.getByRole('button', { name: 'Verify chain' }).click();
  const intact = await textMatches('#verify-result', /Chain intact up to seq \d+/);
  const shownHead = Number(/seq (\d+)/.exec(intact)[1]);
  const verdict = await ok('POST', `/v1/tenants/${TENANT}/audit/verify`, { token: state.appKey, body: {} });
  assert.equal(verdict.valid, true);
  assert.equal(shownHead, verdict.head.seq, intact);
  assert.equal(shownHead, before + 1, 'one break-glass record for the page\'s verify');

  // Tamper with one success event in the store.
  const k = state.events.find((e) => e.outcome === 'success' && e.actor.id === 'dave').seq;
  const db = join(server.dataDir, 'phylax.db');
  const stored = execFileSync('sqlite3', [db, `SELECT record FROM audit_records WHERE tenant='${TENANT}' AND seq=${k}`], { encoding: 'utf8' });
  assert.match(stored, /"outcome":"success"/);
  execFileSync('sqlite3', [db, `UPDATE audit_records SET record = replace(record, '"outcome":"success"', '"outcome":"failure"') WHERE tenant='${TENANT}' AND seq=${k}`]);
  await page.getByRole('button', { name: 'Verify chain' }).click();
  const fault = await textMatches('#verify-result', /Fault at seq/);
  assert.match(fault, new RegExp(`Fault at seq ${k}: audit\\.modified — `), fault);
  await shot('07-audit-verify-fault');
  await checkClean('audit verify');
});

step('a tenant API key with audit:read: audit without break-glass, no tenants page', async () => {
  await signOut();
  await checkA11y('sign-in (signed out)');
  await signIn(state.auditorKey);
  assert.match(await page.locator('#whoami-actor').textContent(), /^api_key:/);
  assert.equal(await page.locator('#whoami-tenant').textContent(), TENANT);
  await open('audit', 'Audit');
  await page.locator('#audit-table').waitFor();
  await until('audit rows', async () => (await shownSeqs()).length === 50);
  assert.equal(await page.getByLabel('Break-glass reason').count(), 0, 'no break-glass field for a tenant credential');
  const nav = await page.getByRole('navigation').getByRole('link').allTextContents();
  assert.ok(!nav.includes('Tenants'), `nav: ${nav}`);
  assert.ok(nav.includes('Audit'));
  // Asking for the tenants page anyway lands elsewhere.
  await page.evaluate(() => { location.hash = '#/tenants'; });
  await until('a redirect away from tenants', async () => !(await page.evaluate(() => location.hash)).includes('tenants'));
  assert.equal(await page.getByRole('heading', { level: 2, name: 'Tenants' }).count(), 0);
  await checkA11y('audit (tenant key)');
  await shot('08-audit-tenant-key');
  await checkClean('tenant key');
  assert.equal(await alertText(), '');

  // Revoking the key ends its console session: the next request lands on sign-in, saying why.
  const auditor = (await ok('GET', `/v1/tenants/${TENANT}/api-keys`)).find((k) => k.name === 'auditor');
  await ok('DELETE', `/v1/tenants/${TENANT}/api-keys/${auditor.keyId}`);
  expectedFailures.push({ status: 401, path: `/v1/tenants/${TENANT}/audit/events` });
  await page.getByRole('button', { name: 'Apply filters' }).click();
  await page.getByRole('heading', { level: 2, name: 'Sign in' }).waitFor();
  await textMatches('#alert', /^auth\.session_ended: /);
  assert.equal(await page.locator('#whoami').count(), 0);
  await checkClean('session ended');
});

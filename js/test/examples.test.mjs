// Every example runs: the edge middleware in the edge-runtime emulator against real
// Request objects, the browser page in headless Chromium, the node:http server on a
// loopback port.
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
// Bundles are signed and engines authored with `phylax/authoring`; the examples that
// load signed bundles (edge middleware, browser) run the runtime entry `phylax`.
import * as phylax from '../dist/authoring/node.js';
import { packBundle } from './conformance.mjs';
import { bundle, edgeVM, launchChromium, platformModule, serve } from './harness.mjs';
import { jwtKeys, js, packSources, root, signJwt } from './fixtures.mjs';

const examples = join(root, 'examples');
const NOW = 1_700_000_000;
const ISS = 'https://login.example.com/';
const AUD = 'https://api.example.com';
const keys = jwtKeys();
const signer = phylax.generateSigningKey();
const signed = phylax.signBundle(packBundle(packSources()), signer.secretKey);
const AUDIT_KEY = '5e'.repeat(32);

function token(sub, roles, { tenant = 'acme', mfa = true, exp = NOW + 600, alg = 'ES256' } = {}) {
  const claims = { iss: ISS, aud: AUD, sub, exp, 'https://phylax.dev/tenant': tenant, 'https://phylax.dev/roles': roles, amr: mfa ? ['pwd', 'mfa'] : ['pwd'] };
  return alg === 'ES256' ? signJwt('ES256', 'ec-1', claims, keys.ec) : signJwt('RS256', 'rsa-1', claims, keys.rsa);
}

test('edge-middleware: 401, 403 and forward with the decision, audited, in the edge runtime', async () => {
  // Bundled as Vercel would: `phylax` resolves through the `edge-light` condition, and its
  // `?module` .wasm import becomes the module the platform compiled.
  const script = await bundle(`export * from '../../examples/edge-middleware/middleware.js';`, {
    format: 'iife', globalName: 'example',
    plugins: [{
      name: 'vercel-wasm-module',
      setup(b) {
        b.onResolve({ filter: /^phylax$/ }, () => ({ path: join(js, 'dist', 'edge-light.js') }));
        b.onResolve({ filter: /\.wasm\?module$/ }, () => ({ path: 'wasm-module', namespace: 'platform' }));
        b.onLoad({ filter: /.*/, namespace: 'platform' }, () => ({ contents: 'export default globalThis.__platformWasmModule;', loader: 'js' }));
      },
    }],
  });
  const vm = edgeVM();
  vm.context.__platformWasmModule = platformModule(vm, '');
  vm.evaluate(script);
  const audited = [];
  const records = { 'rec-1': { tenant: 'acme', patient: 'pt-1', providers: ['dr-1'] }, 'rec-9': { tenant: 'globex', patient: 'pt-9', providers: [] } };
  const settings = vm.evaluate('JSON.parse')(JSON.stringify({
    bundle: signed, publicKey: signer.publicKey, jwt: { issuer: ISS, audiences: [AUD] }, jwks: keys.jwks, auditKey: AUDIT_KEY,
  }));
  Object.assign(settings, { lookupRecord: async (id) => records[id], onAudit: (r) => audited.push(JSON.parse(JSON.stringify(r))), now: () => NOW });
  const middleware = vm.evaluate('example.createMiddleware')(settings);
  assert.deepEqual({ ...vm.evaluate('example.config') }, { matcher: '/api/records/:path*' });
  const Request = vm.evaluate('Request');
  const call = async (method, path, auth) => {
    const req = new Request(`https://app.example.com${path}`, { method, headers: auth ? { authorization: `Bearer ${auth}`, 'x-forwarded-for': '203.0.113.7' } : {} });
    const res = await middleware(req);
    const body = res.headers.get('content-type')?.includes('json') ? await res.json() : null;
    return { status: res.status, headers: Object.fromEntries(res.headers), body };
  };

  const outside = await call('GET', '/about');
  assert.equal(outside.headers['x-middleware-next'], '1', 'unprotected routes pass');
  const none = await call('GET', '/api/records/rec-1');
  assert.equal(none.status, 401);
  assert.equal(none.body.error.code, 'jwt.malformed');
  const expired = await call('GET', '/api/records/rec-1', token('dr-1', ['provider'], { exp: NOW - 3600 }));
  assert.deepEqual([expired.status, expired.body.error.code], [401, 'jwt.expired']);
  const view = await call('GET', '/api/records/rec-1', token('dr-1', ['provider']));
  assert.equal(view.status, 200);
  assert.equal(view.headers['x-middleware-next'], '1');
  assert.equal(view.headers['x-phylax-decision'], 'allow');
  assert.equal(view.headers['x-phylax-bundle'], signed.hash);
  assert.equal(view.headers['x-phylax-principal'], 'dr-1');
  assert.ok(view.headers['x-phylax-policies'].length > 0);
  const del = await call('DELETE', '/api/records/rec-1', token('dr-1', ['provider'], { alg: 'RS256' }));
  assert.deepEqual([del.status, del.body.error.code], [403, 'forbidden'], 'providers cannot delete');
  const other = await call('GET', '/api/records/rec-9', token('dr-1', ['provider']));
  assert.equal(other.status, 403, 'another tenant');
  const exportByPatient = await call('GET', '/api/records/rec-1/export', token('pt-1', ['patient']));
  assert.equal(exportByPatient.status, 200, 'patients export their own record');

  // One audit record per decision, chained per tenant, and the chain verifies.
  assert.equal(audited.length, 4);
  const acme = audited.filter((r) => r.event.tenant === 'acme');
  assert.deepEqual(acme.map((r) => r.event.outcome), ['success', 'denied', 'success']);
  assert.equal(acme[0].event.decision.bundleHash, signed.hash);
  assert.equal(acme[0].event.actor.sourceIp, '203.0.113.7');
  const verification = phylax.AuditChain.open(AUDIT_KEY, 'acme').verify(acme);
  assert.deepEqual([verification.valid, verification.verified], [true, 3]);
});

test('browser: the page gates actions from the signed bundle and encrypts a field (Chromium)', async () => {
  const keyring = phylax.Keyring.create('acme', phylax.RootKey.insecureDevKey());
  const session = {
    bundle: signed, publicKey: signer.publicKey, keyring: keyring.state(),
    user: { id: 'st-1', tenant: 'acme', roles: ['staff'], mfa: true },
    record: { id: 'rec-1', tenant: 'acme', patient: 'pt-1', providers: ['dr-1'] },
  };
  const asProvider = { ...session, user: { id: 'dr-1', tenant: 'acme', roles: ['provider'], mfa: true } };
  const server = await serve({ '/phylax/': join(js, 'dist'), '/': join(examples, 'browser') }, {
    '/session.json': JSON.stringify(session), '/provider/session.json': JSON.stringify(asProvider),
    '/provider/index.html': readFileSync(join(examples, 'browser', 'index.html')), '/provider/app.js': readFileSync(join(examples, 'browser', 'app.js'), 'utf8').replace("from './phylax/", "from '../phylax/"),
  });
  const browser = await launchChromium();
  try {
    const gates = async (url) => {
      const page = await browser.page();
      await page.goto(url);
      await page.waitForFunction(() => document.getElementById('status').textContent !== 'loading…', null, { timeout: 30_000 })
        .catch((err) => assert.fail(`${url}: ${err.message}; page errors: ${page.errors.join(' | ')}`));
      assert.equal(await page.textContent('#status'), 'ready', `page errors: ${page.errors.join(' | ')}`);
      const allowed = await page.$$eval('#actions li', (lis) => Object.fromEntries(lis.map((li) => [li.dataset.action, li.dataset.allowed === 'true' && !li.querySelector('button').disabled])));
      return { page, allowed };
    };
    const staff = await gates(`${server.url}/index.html`);
    assert.deepEqual(staff.allowed, { view: true, update: true, export: false, delete: false }, 'staff: no export, no delete');
    assert.equal(await staff.page.textContent('#bundle'), signed.hash.slice(0, 19));
    await staff.page.fill('input[name=diagnosis]', 'Asthma');
    await staff.page.click('#note button');
    await staff.page.waitForFunction(() => document.getElementById('status').textContent === 'encrypted');
    const ciphertext = await staff.page.textContent('#ciphertext');
    assert.match(ciphertext, /^phx1\.[A-Za-z0-9_-]+$/);
    // Encrypted in Chromium, decrypted in Node: one format everywhere.
    assert.equal(keyring.decryptField('patients.diagnosis', 'rec-1', ciphertext), 'Asthma');
    const provider = await gates(`${server.url}/provider/index.html`);
    assert.deepEqual(provider.allowed, { view: true, update: true, export: true, delete: false });
  } finally {
    await browser.close();
    await server.close();
  }
});

test('node-server: routes protected by JWT, API key and webhook signature', async () => {
  // Installed as a user would have it: the example beside node_modules/phylax.
  const dir = mkdtempSync(join(tmpdir(), 'phylax-node-server-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(join(examples, 'node-server'), dir, { recursive: true });
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(js, join(dir, 'node_modules', 'phylax'), 'dir');
  const { createServer, FIELD_CLASSES } = await import(join(dir, 'server.mjs'));
  const { Engine, Keyring, RootKey, issueApiKey, signWebhook } = await import(join(dir, 'node_modules', 'phylax', 'dist', 'authoring', 'node.js'));

  const keyring = Keyring.create('acme', RootKey.insecureDevKey(), NOW);
  const spec = { name: 'patients', fields: [{ pointer: '/name' }, { pointer: '/diagnosis' }] };
  const data = keyring.encryptRecord(spec, 'rec-1', { name: 'Ada', diagnosis: 'flu' }).record;
  const key = issueApiKey({ tenant: 'acme', scopes: ['records:read'], now: NOW });
  const weak = issueApiKey({ tenant: 'acme', scopes: ['records:write'], now: NOW });
  const server = createServer({
    engine: Engine.healthcare({ entities: FIELD_CLASSES }), jwt: { issuer: ISS, audiences: [AUD] }, jwks: keys.jwks, keyrings: { acme: keyring },
    records: { 'rec-1': { tenant: 'acme', patient: 'pt-1', providers: ['dr-1'], data } },
    apiKeys: { [key.record.keyId]: key.record, [weak.record.keyId]: weak.record }, webhookSecrets: ['whsec_new', 'whsec_old'], now: () => NOW,
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${server.address().port}`;
  const get = async (path, headers = {}) => { const res = await fetch(base + path, { headers }); return { status: res.status, body: await res.json() }; };
  try {
    const provider = await get('/records/rec-1', { authorization: `Bearer ${token('dr-1', ['provider'])}` });
    assert.deepEqual([provider.status, provider.body.data], [200, { name: 'Ada', diagnosis: 'flu' }]);
    const staff = await get('/records/rec-1', { authorization: `Bearer ${token('st-1', ['staff'])}` });
    assert.deepEqual([staff.status, staff.body.data], [200, { name: 'Ada' }], 'staff: non-clinical fields only');
    const stranger = await get('/records/rec-1', { authorization: `Bearer ${token('dr-9', ['provider'], { tenant: 'globex' })}` });
    assert.equal(stranger.status, 403);
    const noToken = await get('/records/rec-1');
    assert.deepEqual([noToken.status, noToken.body.error.code], [401, 'jwt.malformed']);
    const b2b = await get('/b2b/records/rec-1', { 'x-api-key': key.apiKey });
    assert.deepEqual([b2b.status, b2b.body.tenant], [200, 'acme']);
    const scope = await get('/b2b/records/rec-1', { 'x-api-key': weak.apiKey });
    assert.deepEqual([scope.status, scope.body.error.code], [401, 'api_key.missing_scope']);
    const typo = await get('/b2b/records/rec-1', { 'x-api-key': key.apiKey.slice(0, -1) + (key.apiKey.endsWith('A') ? 'B' : 'A') });
    assert.deepEqual([typo.status, typo.body.error.code], [401, 'api_key.checksum']);
    const body = JSON.stringify({ id: 'evt_1', type: 'record.updated' });
    const hook = async (signature, payload = body) => { const res = await fetch(`${base}/webhooks`, { method: 'POST', body: payload, headers: { 'phylax-signature': signature } }); return { status: res.status, body: await res.json() }; };
    assert.deepEqual(await hook(signWebhook(body, 'whsec_old', NOW - 10)), { status: 202, body: { accepted: 'evt_1', timestamp: NOW - 10 } });
    const forged = await hook(signWebhook(body, 'whsec_guess', NOW));
    assert.deepEqual([forged.status, forged.body.error.code], [401, 'webhook.signature_mismatch']);
    const replay = await hook(signWebhook(body, 'whsec_new', NOW - 3600));
    assert.deepEqual([replay.status, replay.body.error.code], [401, 'webhook.too_old']);
  } finally {
    await new Promise((r) => server.close(r));
  }
});

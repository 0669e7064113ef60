// The Next.js example, for real: npm ci (when node_modules is missing or stale), `next build`
// of both apps, `next start` of each on a free 127.0.0.1 port, then allowed and denied
// requests through proxy.ts (Node.js), the edge middleware.ts and the route handler,
// checking status and body. Prints the size of the built edge middleware (gzip -9).
//
// Run: node --test examples/nextjs/test.mjs   (from the repository root; js/dist must be built)
//
// Every key here is made up for this run (signing key, JWT key, API keys, root key) and
// handed to the apps through the environment of `next start`; no key is written to disk.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { after, before, test } from 'node:test';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');
const APPS = { node: join(here, 'node-proxy'), edge: join(here, 'edge-middleware') };
const NEXT = join(here, 'node_modules', 'next', 'dist', 'bin', 'next');
const env = { ...process.env, NEXT_TELEMETRY_DISABLED: '1', CI: '1' };
const ISS = 'https://login.example.test/';
const AUD = 'https://api.example.test';

const servers = [];
let fx; // fixtures: keys, tokens, API keys, the signed bundle
let apps; // { node, edge }: the running servers

// ---------------------------------------------------------------- processes

/** Runs a command to completion (no stdin), its output kept for the error message. */
function run(cmd, args, { cwd, timeout }) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(' ')} (in ${cwd}) failed: ${signal ?? `exit ${code}`}\n${out}`));
    });
  });
}

/** `npm ci` when node_modules is missing or was installed from other manifests. */
async function ensureInstalled() {
  const manifests = ['package.json', 'package-lock.json', 'node-proxy/package.json', 'edge-middleware/package.json'];
  const stamp = createHash('sha256').update(manifests.map((f) => readFileSync(join(here, f))).join('\0')).digest('hex');
  const stampFile = join(here, 'node_modules', '.phylax-example-installed');
  if (existsSync(NEXT) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) return 'node_modules up to date';
  const started = Date.now();
  await run('npm', ['ci', '--no-audit', '--no-fund'], { cwd: here, timeout: 180_000 });
  writeFileSync(stampFile, stamp);
  return `npm ci in ${((Date.now() - started) / 1000).toFixed(1)} s`;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** `next start` on a free port; resolves once it answers `/` with its server record. */
async function start(app, appEnv) {
  const port = await freePort();
  const child = spawn(process.execPath, [NEXT, 'start', '-H', '127.0.0.1', '-p', String(port)], {
    cwd: app, env: { ...env, ...appEnv }, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
  });
  const server = { child, log: '', exited: false, url: `http://127.0.0.1:${port}` };
  servers.push(server);
  child.stdout.on('data', (d) => { server.log += d; });
  child.stderr.on('data', (d) => { server.log += d; });
  child.on('exit', () => { server.exited = true; });
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (server.exited) throw new Error(`next start exited early in ${app}:\n${server.log}`);
    try {
      if ((await fetch(server.url, { signal: AbortSignal.timeout(2_000) })).status === 200) return server;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`next start in ${app} not ready after 60 s:\n${server.log}`);
}

/** Stops a server's process group (next start and anything it started): TERM, then KILL. */
async function stop(server) {
  if (server.exited) return;
  const exited = new Promise((r) => server.child.once('exit', r));
  try { process.kill(-server.child.pid, 'SIGTERM'); } catch { /* gone */ }
  const timer = setTimeout(() => { try { process.kill(-server.child.pid, 'SIGKILL'); } catch { /* gone */ } }, 5_000);
  await exited;
  clearTimeout(timer);
}

// Last resort if the runner dies between start and the after hook.
process.on('exit', () => {
  for (const s of servers) if (!s.exited) try { process.kill(-s.child.pid, 'SIGKILL'); } catch { /* gone */ }
});

// ---------------------------------------------------------------- fixtures

const b64url = (value) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

function signJwt(claims, key, kid = 'test-es256') {
  const input = `${b64url({ alg: 'ES256', typ: 'JWT', kid })}.${b64url(claims)}`;
  return `${input}.${sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

async function fixtures() {
  const runtime = await import('phylax');
  // Signing and issuing belong to the authoring side (`phylax/authoring` where the package
  // has it, else `phylax`); the apps themselves import only `phylax`.
  const authoring = await import('phylax/authoring').catch((err) => {
    if (err.code === 'ERR_PACKAGE_PATH_NOT_EXPORTED' || err.code === 'ERR_MODULE_NOT_FOUND') return {};
    throw err;
  });
  const use = (name) => authoring[name] ?? runtime[name] ?? assert.fail(`phylax exports no ${name}`);

  // The tenant's policy bundle: the healthcare pack, signed as the host would sign it.
  const pack = join(repo, 'core', 'pack');
  const signer = use('generateSigningKey')();
  const bundle = use('signBundle')({
    format: 'phylax.bundle.v1',
    version: 'nextjs-example.1',
    createdAt: Math.floor(Date.now() / 1000),
    schema: readFileSync(join(pack, 'healthcare.cedarschema'), 'utf8'),
    platformPolicies: [{ name: 'healthcare.cedar', text: readFileSync(join(pack, 'healthcare.cedar'), 'utf8') }],
    tenantPolicies: {},
    entities: [
      ...JSON.parse(readFileSync(join(pack, 'healthcare.entities.json'), 'utf8')),
      { uid: { type: 'Field', id: '/diagnosis' }, attrs: {}, parents: [{ type: 'FieldClass', id: 'clinical' }] },
    ],
  }, signer.secretKey);

  // The identity provider: an ES256 key and its JWKS.
  const jwtKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const jwks = { keys: [{ ...jwtKey.publicKey.export({ format: 'jwk' }), kid: 'test-es256', alg: 'ES256', use: 'sig' }] };
  const now = Math.floor(Date.now() / 1000);
  const claims = (sub, tenant, roles) => ({
    iss: ISS, aud: AUD, sub, iat: now, exp: now + 900, amr: ['pwd', 'mfa'],
    'https://phylax.dev/tenant': tenant, 'https://phylax.dev/roles': roles,
  });
  const jwt = (sub, tenant, roles) => signJwt(claims(sub, tenant, roles), jwtKey.privateKey);
  const tokens = {
    dr1: jwt('dr-1', 'acme', ['provider']), // on pt-1's care team
    pt1: jwt('pt-1', 'acme', ['patient']),
    pt2: jwt('pt-2', 'acme', ['patient']),
    staff: jwt('st-1', 'acme', ['staff']),
    dr9: jwt('dr-9', 'globex', ['provider']), // another tenant
    expired: signJwt({ ...claims('dr-1', 'acme', ['provider']), iat: now - 7200, exp: now - 3600 }, jwtKey.privateKey),
    forged: signJwt(claims('dr-1', 'acme', ['provider']), stranger),
    wrongAudience: signJwt({ ...claims('dr-1', 'acme', ['provider']), aud: 'https://other.example.test' }, jwtKey.privateKey),
  };

  // Tenant API keys: the apps get the stored records (hashes), the test keeps the keys.
  const issue = (tenant, scopes) => use('issueApiKey')({ tenant, scopes, environment: 'test' });
  const acmeRead = issue('acme', ['records:read']);
  const acmeWrite = issue('acme', ['records:write']);
  const unknown = issue('acme', ['records:read']); // never stored
  const apiKeys = { acmeRead: acmeRead.apiKey, acmeWrite: acmeWrite.apiKey, unknown: unknown.apiKey };
  const corrupted = acmeRead.apiKey.slice(0, -1) + (acmeRead.apiKey.endsWith('A') ? 'B' : 'A');

  // Field encryption: a test root key and each tenant's stored keyring state.
  const rootKeyHex = randomBytes(32).toString('hex');
  const rootKey = runtime.RootKey.parse(rootKeyHex);
  const keyrings = { acme: runtime.Keyring.create('acme', rootKey), globex: runtime.Keyring.create('globex', rootKey) };
  const appEnv = {
    PHYLAX_BUNDLE: JSON.stringify(bundle),
    PHYLAX_BUNDLE_PUBLIC_KEY: signer.publicKey,
    JWT_ISSUER: ISS,
    JWT_AUDIENCE: AUD,
    JWT_JWKS: JSON.stringify(jwks),
    PHYLAX_API_KEYS: JSON.stringify([acmeRead.record, acmeWrite.record]),
    PHYLAX_ROOT_KEY: rootKeyHex,
    PHYLAX_KEYRINGS: JSON.stringify({ acme: keyrings.acme.state(), globex: keyrings.globex.state() }),
  };
  return { bundle, tokens, apiKeys, acmeReadKeyId: acmeRead.record.keyId, corrupted, keyrings, appEnv };
}

// ---------------------------------------------------------------- what next build made

const manifest = (app, name) => JSON.parse(readFileSync(join(app, '.next', 'server', name), 'utf8'));

/** proxy.ts became a Node.js function, middleware.ts an edge middleware. */
function checkBuiltRuntimes() {
  const proxy = manifest(APPS.node, 'functions-config-manifest.json').functions['/_middleware'];
  assert.equal(proxy?.runtime, 'nodejs', 'node-proxy: proxy.ts built for the Node.js runtime');
  assert.deepEqual(manifest(APPS.node, 'middleware-manifest.json').middleware, {}, 'node-proxy: no edge middleware');
  assert.ok(manifest(APPS.edge, 'middleware-manifest.json').middleware['/'], 'edge-middleware: middleware.ts built for the edge runtime');
}

/** The files Next emitted for the edge middleware (its manifest's files, wasm and assets), each gzip -9. */
function edgeMiddlewareSize() {
  const dist = join(APPS.edge, '.next');
  const entry = manifest(APPS.edge, 'middleware-manifest.json').middleware['/'];
  const files = [...entry.files, ...(entry.wasm ?? []).map((w) => w.filePath), ...(entry.assets ?? []).map((a) => a.filePath)];
  const seen = new Map(); // content hash → first file with it
  const rows = [...new Set(files)].map((file) => {
    const bytes = readFileSync(join(dist, file));
    const hash = createHash('sha256').update(bytes).digest('hex');
    const copyOf = seen.get(hash);
    if (!copyOf) seen.set(hash, file);
    return { file, raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length, copyOf };
  });
  const kib = (n) => `${(n / 1024).toFixed(1)} KiB`.padStart(11);
  const sum = (list) => list.reduce((t, r) => ({ raw: t.raw + r.raw, gzip: t.gzip + r.gzip }), { raw: 0, gzip: 0 });
  const total = sum(rows);
  const unique = sum(rows.filter((r) => !r.copyOf));
  return [
    `edge middleware output (edge-middleware/.next, from server/middleware-manifest.json; Vercel Hobby limit: 1 MB gzipped):`,
    ...rows.map((r) => `  ${kib(r.gzip)} gzip -9 ${kib(r.raw)} raw  ${r.file}${r.copyOf ? `  (same bytes as ${r.copyOf})` : ''}`),
    `  ${kib(total.gzip)} gzip -9 ${kib(total.raw)} raw  total`,
    ...(unique.raw !== total.raw ? [`  ${kib(unique.gzip)} gzip -9 ${kib(unique.raw)} raw  total without the duplicate files`] : []),
  ].join('\n');
}

// ---------------------------------------------------------------- setup and teardown

before(async () => {
  const started = Date.now();
  assert.ok(existsSync(join(repo, 'js', 'dist', 'node.js')), 'the package is built: node js/scripts/build.mjs');
  const install = await ensureInstalled();
  fx = await fixtures();
  // Built one after the other: two cores, and each build uses both.
  const timings = [];
  for (const [name, app] of Object.entries(APPS)) {
    const t0 = Date.now();
    const out = await run(process.execPath, [NEXT, 'build'], { cwd: app, timeout: 240_000 });
    assert.match(out, /Turbopack/, 'next build uses Turbopack (Next 16 default)');
    timings.push(`${name} ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  console.log(`${install}; next build (Turbopack): ${timings.join(', ')}`);
  checkBuiltRuntimes();
  console.log(edgeMiddlewareSize());
  const [node, edge] = await Promise.all([start(APPS.node, fx.appEnv), start(APPS.edge, fx.appEnv)]);
  apps = { node, edge };
  console.log(`next start: node-proxy ${node.url}, edge-middleware ${edge.url} (setup ${((Date.now() - started) / 1000).toFixed(1)} s)`);
}, { timeout: 420_000 });

after(async () => {
  await Promise.all(servers.map(stop));
});

// ---------------------------------------------------------------- requests

/** Runs `fn(url)` against a server; a failure carries the server's log. */
async function against(server, fn) {
  try {
    await fn(server.url);
  } catch (err) {
    err.message += `\n--- next start log ---\n${server.log.slice(-4000)}`;
    throw err;
  }
}

async function call(base, path, { method = 'GET', token, apiKey, headers = {}, body } = {}) {
  const res = await fetch(base + path, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(apiKey ? { 'x-api-key': apiKey } : {}),
      ...(body ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = text; }
  return { status: res.status, headers: res.headers, body: json };
}

/** The same allowed and denied requests through a guard (proxy.ts or middleware.ts). */
async function guardCases(base, runtime) {
  const edge = runtime === 'edge';
  const where = (res) => {
    assert.equal(res.headers.get('x-phylax-runtime'), runtime, 'compiled for this runtime');
    assert.equal(res.headers.get('x-phylax-edge-global'), edge ? 'edge-runtime' : 'none', 'ran in the edge sandbox or not');
  };
  const allowed = (principal, policies, res) => {
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body, {
      record: 'rec-1', tenant: 'acme', patient: 'pt-1', principal, policies, bundleHash: fx.bundle.hash, handlerRuntime: 'nodejs',
    });
    where(res);
  };
  const refused = (status, code, res, policies) => {
    assert.equal(res.status, status, JSON.stringify(res.body));
    assert.equal(res.body.error?.code, code, JSON.stringify(res.body));
    if (status === 403) assert.deepEqual(res.body.policies, policies);
    if (status === 401) assert.equal(res.headers.get('www-authenticate'), 'Bearer');
    where(res);
  };

  // Allowed: the patient's provider, the patient, a staff member, a tenant API key.
  allowed('user:dr-1', ['provider-own-patients'], await call(base, '/api/records/rec-1', { token: fx.tokens.dr1 }));
  allowed('user:pt-1', ['patient-own-records'], await call(base, '/api/records/rec-1', { token: fx.tokens.pt1 }));
  allowed('user:st-1', ['staff-records'], await call(base, '/api/records/rec-1', { token: fx.tokens.staff }));
  allowed(`apiKey:${fx.acmeReadKeyId}`, ['api-key-read'], await call(base, '/api/records/rec-1', { apiKey: fx.apiKeys.acmeRead }));
  // Headers a client sends under the guard's names are replaced, never trusted.
  allowed('user:dr-1', ['provider-own-patients'], await call(base, '/api/records/rec-1', {
    token: fx.tokens.dr1, headers: { 'x-phylax-policies': 'forged', 'x-phylax-principal': 'user:admin' },
  }));

  // 401: no credential, a bad one.
  refused(401, 'credentials.missing', await call(base, '/api/records/rec-1'));
  refused(401, 'jwt.malformed', await call(base, '/api/records/rec-1', { token: 'not-a-jwt' }));
  refused(401, 'jwt.expired', await call(base, '/api/records/rec-1', { token: fx.tokens.expired }));
  refused(401, 'jwt.bad_signature', await call(base, '/api/records/rec-1', { token: fx.tokens.forged }));
  refused(401, 'jwt.wrong_audience', await call(base, '/api/records/rec-1', { token: fx.tokens.wrongAudience }));
  refused(401, 'api_key.unknown', await call(base, '/api/records/rec-1', { apiKey: fx.apiKeys.unknown }));
  refused(401, 'api_key.checksum', await call(base, '/api/records/rec-1', { apiKey: fx.corrupted }));

  // 403: a valid credential the policies refuse.
  refused(403, 'forbidden', await call(base, '/api/records/rec-2', { token: fx.tokens.pt1 }), []); // another patient's record
  refused(403, 'forbidden', await call(base, '/api/records/rec-1', { token: fx.tokens.dr9 }), ['tenant-isolation-records']);
  refused(403, 'forbidden', await call(base, '/api/records/rec-9', { apiKey: fx.apiKeys.acmeRead }), ['tenant-isolation-records']);
  refused(403, 'forbidden', await call(base, '/api/records/rec-1', { apiKey: fx.apiKeys.acmeWrite }), []); // no records:read
  refused(403, 'forbidden', await call(base, '/api/records/rec-1', { method: 'DELETE', token: fx.tokens.dr1 }), []);
  refused(404, 'not_found', await call(base, '/api/records/rec-404', { token: fx.tokens.dr1 }));
}

test('proxy.ts on the Node.js runtime: JWT or API key, then the signed bundle decides (401, 403 or on to the route)', { timeout: 60_000 }, async () => {
  await against(apps.node, (url) => guardCases(url, 'nodejs'));
});

test('edge middleware.ts on the edge runtime: the same decisions, made in the edge sandbox', { timeout: 60_000 }, async () => {
  await against(apps.edge, (url) => guardCases(url, 'edge'));
});

test('route handler on the Node.js runtime: decides, encrypts and decrypts the diagnosis with the tenant keyring', { timeout: 60_000 }, () => against(apps.node, async (base) => {
  const path = '/api/records/rec-1/diagnosis';
  const notProxied = (res) => assert.equal(res.headers.get('x-phylax-runtime'), null, 'proxy.ts does not match this path');
  const refused = (status, code, res, policies) => {
    assert.equal(res.status, status, JSON.stringify(res.body));
    assert.equal(res.body.error?.code, code);
    if (policies) assert.deepEqual(res.body.policies, policies);
    notProxied(res);
  };

  // Denied before anything is encrypted or stored.
  refused(401, 'credentials.missing', await call(base, path, { method: 'PUT', body: { diagnosis: 'x' } }));
  refused(401, 'jwt.bad_signature', await call(base, path, { method: 'PUT', token: fx.tokens.forged, body: { diagnosis: 'x' } }));
  refused(403, 'forbidden', await call(base, path, { method: 'PUT', token: fx.tokens.pt1, body: { diagnosis: 'x' } }), []);
  refused(403, 'forbidden', await call(base, path, { method: 'PUT', token: fx.tokens.dr9, body: { diagnosis: 'x' } }), ['tenant-isolation-records']);

  // The provider stores it: encrypted under acme's key, bound to the field and the record.
  const diagnosis = 'J45.909 asthma, uncomplicated';
  const put = await call(base, path, { method: 'PUT', token: fx.tokens.dr1, body: { diagnosis } });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  assert.equal(put.body.record, 'rec-1');
  assert.deepEqual(put.body.policies, ['provider-own-patients']);
  assert.match(put.body.stored, /^phx1\./);
  assert.ok(!put.body.stored.includes('asthma'));
  assert.equal(fx.keyrings.acme.decryptField('records.diagnosis', 'rec-1', put.body.stored), diagnosis, 'the test decrypts what the app stored');
  assert.throws(() => fx.keyrings.globex.decryptField('records.diagnosis', 'rec-1', put.body.stored), 'not under another tenant key');
  notProxied(put);

  // Read back: decrypted for the patient, the provider and the read-scoped API key; withheld from staff.
  const reader = async (credential, policies) => {
    const res = await call(base, path, credential);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body, { record: 'rec-1', policies, readable: ['/diagnosis'], withheld: [], diagnosis });
    notProxied(res);
  };
  await reader({ token: fx.tokens.pt1 }, ['patient-own-records']);
  await reader({ token: fx.tokens.dr1 }, ['provider-own-patients']);
  await reader({ apiKey: fx.apiKeys.acmeRead }, ['api-key-read']);
  const staff = await call(base, path, { token: fx.tokens.staff });
  assert.equal(staff.status, 200, JSON.stringify(staff.body));
  assert.deepEqual(staff.body, { record: 'rec-1', policies: ['staff-records'], readable: [], withheld: ['/diagnosis'] }, 'no diagnosis for staff');

  // Denied reads: another patient, another tenant, no credential.
  refused(403, 'forbidden', await call(base, path, { token: fx.tokens.pt2 }), []);
  refused(403, 'forbidden', await call(base, path, { token: fx.tokens.dr9 }), ['tenant-isolation-records']);
  refused(401, 'credentials.missing', await call(base, path));
}));

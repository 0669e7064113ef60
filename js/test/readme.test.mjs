// The README's quickstarts, run exactly as written there: each block marked
// `<!-- quickstart: NAME -->` is taken out of README.md at test time. The JavaScript and
// shell blocks run against a real `phylax serve` (debug build, loopback, free port, temp
// data dir); the middleware runs in the edge-runtime emulator with wasm compilation
// disabled. The Rust block is a doctest of phylax-core (`cargo test -p phylax-core --doc`).
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { build } from 'esbuild';
import { edgeVM, platformModule } from './harness.mjs';
import { js, jwtKeys, root, signJwt } from './fixtures.mjs';

/** The marked blocks: name → { lang, code }. */
function quickstarts() {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const blocks = new Map();
  for (const m of readme.matchAll(/^<!-- quickstart: ([\w-]+) -->\n```(\S*)\n([\s\S]*?)^```$/gm)) {
    assert.ok(!blocks.has(m[1]), `README.md marks two blocks \`${m[1]}\``);
    blocks.set(m[1], { lang: m[2], code: m[3] });
  }
  return blocks;
}

const EXPECTED = { web: 'js', list: 'js', edge: 'js', native: 'rust', serve: 'sh' };
const blocks = quickstarts();
function block(name) {
  const found = blocks.get(name);
  assert.ok(found, `README.md has no block marked \`<!-- quickstart: ${name} -->\` (a line right above a fenced block)`);
  return found.code;
}

function scratch(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The `phylax` debug binary, built when missing (CI builds it in `cargo test --workspace`). */
function phylaxBinary() {
  const meta = JSON.parse(execFileSync('cargo', ['metadata', '--format-version', '1', '--no-deps'], { cwd: root, encoding: 'utf8' }));
  const bin = join(resolve(root, meta.target_directory), 'debug', 'phylax');
  if (!existsSync(bin)) {
    const built = spawnSync('cargo', ['build', '-p', 'phylax-host', '--locked'], { cwd: root, stdio: 'inherit' });
    assert.equal(built.status, 0, '`cargo build -p phylax-host` failed');
  }
  return bin;
}

/** Starts `phylax serve` on a free loopback port; the settings a user exports before running the quickstarts. */
async function startServer() {
  const data = scratch('phylax-readme-data-');
  const env = {
    PHYLAX_ADMIN_TOKEN: `readme-admin-${randomBytes(12).toString('hex')}`,
    PHYLAX_ROOT_KEY: randomBytes(32).toString('hex'),
  };
  const child = spawn(phylaxBinary(), ['serve', '--listen', '127.0.0.1:0', '--data-dir', data], {
    env: { PATH: process.env.PATH, RUST_LOG: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const url = await new Promise((resolveUrl, reject) => {
    let stdout = '';
    const timer = setTimeout(() => reject(new Error(`phylax serve did not start in 60 s: ${stderr}`)), 60_000);
    child.stdout.on('data', (d) => {
      stdout += d;
      const line = /^phylax listening on (\S+)$/m.exec(stdout);
      if (line) { clearTimeout(timer); resolveUrl(line[1]); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`phylax serve exited (${code}): ${stderr}`)); });
  });
  after(() => new Promise((done) => {
    if (child.exitCode !== null) return done();
    child.on('exit', () => done());
    child.kill('SIGTERM');
  }));
  return { ...env, PHYLAX_URL: url, stderr: () => stderr };
}

/** Runs a command with only PATH and the given variables; resolves to { code, stdout, stderr }. */
function run(file, args, { cwd, env }) {
  return new Promise((done) => {
    execFile(file, args, { cwd, env: { PATH: process.env.PATH, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      done({ code: err ? (err.code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** A project directory with `phylax` installed as a user would have it (node_modules/phylax). */
function project(prefix) {
  const dir = scratch(prefix);
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(js, join(dir, 'node_modules', 'phylax'), 'dir');
  return dir;
}

test('README.md marks every quickstart, each in the language its runner expects', () => {
  for (const [name, lang] of Object.entries(EXPECTED)) {
    block(name);
    assert.equal(blocks.get(name).lang, lang, `the \`${name}\` quickstart must be a \`\`\`${lang} block (rustdoc runs only \`\`\`rust)`);
  }
  assert.deepEqual([...blocks.keys()].sort(), Object.keys(EXPECTED).sort(), 'a marked block no runner knows');
});

test('web: node quickstart.mjs against phylax serve', async () => {
  const server = await startServer();
  const dir = project('phylax-readme-web-');
  writeFileSync(join(dir, 'quickstart.mjs'), block('web'));
  const env = { PHYLAX_URL: server.PHYLAX_URL, PHYLAX_ADMIN_TOKEN: server.PHYLAX_ADMIN_TOKEN, PHYLAX_ROOT_KEY: server.PHYLAX_ROOT_KEY };
  const first = await run(process.execPath, ['quickstart.mjs'], { cwd: dir, env });
  assert.equal(first.code, 0, `quickstart.mjs failed:\n${first.stderr}\nserver:\n${server.stderr()}`);
  assert.equal(first.stdout, 'allow deny\nJ45.909 asthma\n');
  // A second run finds the tenant already there and still works.
  const again = await run(process.execPath, ['quickstart.mjs'], { cwd: dir, env });
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout, first.stdout);
});

test('list: node list.mjs plans a list query and prints its SQL', async () => {
  const server = await startServer();
  const dir = project('phylax-readme-list-');
  writeFileSync(join(dir, 'list.mjs'), block('list'));
  const env = { PHYLAX_URL: server.PHYLAX_URL, PHYLAX_ADMIN_TOKEN: server.PHYLAX_ADMIN_TOKEN };
  const result = await run(process.execPath, ['list.mjs'], { cwd: dir, env });
  assert.equal(result.code, 0, `list.mjs failed:\n${result.stderr}\nserver:\n${server.stderr()}`);
  assert.equal(result.stdout, [
    'conditional provider-own-patients tenant-isolation-records',
    'SELECT * FROM records WHERE ((records.tenant_id = $1) AND (TRUE) AND (EXISTS (SELECT 1 FROM care_team c WHERE c.patient_id = records.patient_id AND c.provider_id = $2)))',
    '["acme","dr-lee"]',
    '',
  ].join('\n'));
});

test('edge: middleware.js in the edge runtime (no wasm compilation), bundle from phylax serve', async () => {
  // The deploy-time inputs: the tenant's signed bundle saved beside the middleware, and
  // the bundle public key, both from a real server.
  const server = await startServer();
  const admin = { authorization: `Bearer ${server.PHYLAX_ADMIN_TOKEN}` };
  const created = await fetch(`${server.PHYLAX_URL}/v1/tenants`, { method: 'POST', headers: admin, body: JSON.stringify({ id: 'acme' }) });
  assert.equal(created.status, 201);
  const signed = await (await fetch(`${server.PHYLAX_URL}/v1/tenants/acme/bundle`, { headers: admin })).text();
  const { publicKey } = (await (await fetch(`${server.PHYLAX_URL}/v1/bundles/public-key`, { headers: admin })).json()).ok;
  const dir = project('phylax-readme-edge-');
  writeFileSync(join(dir, 'middleware.js'), block('edge'));
  writeFileSync(join(dir, 'policy-bundle.json'), signed);

  // Bundled as Vercel does: the `edge-light` condition, `.wasm?module` imports become the
  // module the platform compiled, JSON imports are inlined.
  const out = await build({
    entryPoints: [join(dir, 'middleware.js')], bundle: true, write: false, format: 'iife', globalName: 'middleware',
    platform: 'neutral', target: 'es2022', conditions: ['edge-light'], mainFields: ['module', 'main'], logLevel: 'silent',
    plugins: [{
      name: 'vercel-wasm-module',
      setup(b) {
        b.onResolve({ filter: /\.wasm\?module$/ }, () => ({ path: 'wasm-module', namespace: 'platform' }));
        b.onLoad({ filter: /.*/, namespace: 'platform' }, () => ({ contents: 'export default globalThis.__platformWasmModule;', loader: 'js' }));
      },
    }],
  });
  const vm = edgeVM();
  vm.context.__platformWasmModule = platformModule(vm);
  const ISS = 'https://login.example.com/';
  const AUD = 'https://api.example.com';
  const keys = jwtKeys();
  // The deployment's environment variables, as the platform provides `process.env`.
  vm.context.process = vm.evaluate('JSON.parse')(JSON.stringify({
    env: { PHYLAX_BUNDLE_PUBLIC_KEY: publicKey, JWT_ISSUER: ISS, JWT_AUDIENCE: AUD, JWT_JWKS: JSON.stringify(keys.jwks) },
  }));
  vm.evaluate(out.outputFiles[0].text);
  assert.deepEqual({ ...vm.evaluate('middleware.config') }, { matcher: '/api/records/:id' });
  const middleware = vm.evaluate('middleware.middleware');
  const Request = vm.evaluate('Request');

  const now = Math.floor(Date.now() / 1000);
  const token = (sub, roles, { tenant = 'acme', exp = now + 600 } = {}) => signJwt('ES256', 'ec-1', {
    iss: ISS, aud: AUD, sub, exp, 'https://phylax.dev/tenant': tenant, 'https://phylax.dev/roles': roles, amr: ['pwd', 'mfa'],
  }, keys.ec);
  const call = async (path, jwt) => {
    const res = await middleware(new Request(`https://app.example.com${path}`, { headers: jwt ? { authorization: `Bearer ${jwt}` } : {} }));
    return { status: res.status, next: res.headers.get('x-middleware-next'), body: res.headers.get('content-type')?.includes('json') ? await res.json() : null };
  };

  assert.deepEqual(await call('/api/records/rec-1'), { status: 401, next: null, body: { error: 'jwt.malformed' } });
  assert.deepEqual(await call('/api/records/rec-1', token('ann', ['staff'], { exp: now - 3600 })), { status: 401, next: null, body: { error: 'jwt.expired' } });
  assert.deepEqual(await call('/api/records/rec-1', token('ann', ['staff'])), { status: 200, next: '1', body: null }, 'staff of the tenant: forwarded');
  assert.deepEqual(await call('/api/records/rec-1', token('pt-1', ['patient'])), { status: 200, next: '1', body: null }, 'the patient: forwarded');
  assert.deepEqual(await call('/api/records/rec-1', token('pt-2', ['patient'])), { status: 403, next: null, body: { error: 'forbidden' } }, 'another patient');
  assert.deepEqual(await call('/api/records/rec-1', token('bob', ['staff'], { tenant: 'globex' })), { status: 403, next: null, body: { error: 'forbidden' } }, 'another tenant');
  assert.deepEqual(await call('/api/records/rec-9', token('ann', ['staff'])), { status: 404, next: null, body: { error: 'not_found' } });
});

test('serve: the curl calls against phylax serve (sh -e)', async () => {
  const server = await startServer();
  const dir = scratch('phylax-readme-serve-');
  writeFileSync(join(dir, 'quickstart.sh'), block('serve'));
  const env = { PHYLAX_URL: server.PHYLAX_URL, PHYLAX_ADMIN_TOKEN: server.PHYLAX_ADMIN_TOKEN };
  const result = await run('sh', ['-e', 'quickstart.sh'], { cwd: dir, env });
  assert.equal(result.code, 0, `quickstart.sh failed (${result.code}):\n${result.stdout}\n${result.stderr}\nserver:\n${server.stderr()}`);
  const lines = result.stdout.trim().split('\n').map((line) => JSON.parse(line));
  assert.equal(lines.length, 3, result.stdout);
  assert.equal(lines[0].ok.id, 'acme', 'tenant created');
  assert.equal(lines[1].ok.decision, 'allow');
  assert.deepEqual(lines[1].ok.policies, ['staff-records']);
  assert.deepEqual(lines[2], { ok: { plaintext: 'J45.909 asthma' } });
});

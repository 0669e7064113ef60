// The package a user installs: `npm pack`, install the tarball into a scratch project
// (offline: it has no runtime dependencies), import it from ESM, and type-check a
// TypeScript consumer against the shipped declarations.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { js } from './fixtures.mjs';

const dir = mkdtempSync(join(tmpdir(), 'phylax-pack-'));
const project = join(dir, 'project');
let tarball;

const npm = (args, cwd) => execFileSync('npm', args, { cwd, encoding: 'utf8', env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' } });

before(() => {
  const packed = JSON.parse(npm(['pack', '--json', '--pack-destination', dir], js));
  tarball = join(dir, packed[0].filename);
  execFileSync('mkdir', ['-p', project]);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module' }));
  npm(['install', '--offline', '--no-package-lock', tarball], project);
});

after(() => rmSync(dir, { recursive: true, force: true }));

test('the tarball holds dist, the .wasm, the README and no sources or tests', () => {
  const files = JSON.parse(npm(['pack', '--dry-run', '--json'], js))[0].files.map((f) => f.path);
  for (const need of ['dist/crypto/node.js', 'dist/crypto/wasm/phylax_bg.wasm', 'dist/authoring/node.js', 'dist/authoring/wasm/phylax_bg.wasm', 'package.json', 'README.md', 'dist/node.js', 'dist/browser.js', 'dist/edge-light.js', 'dist/workerd.js', 'dist/init.js', 'dist/index.d.ts', 'dist/init.d.ts', 'dist/wasm/phylax_bg.wasm', 'dist/wasm/phylax.js']) {
    assert.ok(files.includes(need), `packs ${need}`);
  }
  assert.ok(!files.some((f) => f.startsWith('src/') || f.startsWith('test/') || f.startsWith('bench/') || f.startsWith('node_modules/')), files.join(' '));
  const pkg = JSON.parse(readFileSync(join(project, 'node_modules', 'phylax', 'package.json'), 'utf8'));
  assert.equal(pkg.dependencies, undefined, 'no runtime dependencies');
  assert.deepEqual(readdirSync(join(project, 'node_modules')).filter((n) => !n.startsWith('.')), ['phylax']);
});

test('an ESM consumer imports each entry and uses it', () => {
  writeFileSync(join(project, 'check.mjs'), `
    import { Keyring, RootKey, Engine, signWebhook, verifyWebhook, PhylaxError } from 'phylax';
    import * as init from 'phylax/init';
    import * as authoring from 'phylax/authoring';
    import * as crypto from 'phylax/crypto';
    const k = Keyring.create('acme', RootKey.insecureDevKey());
    const ct = k.encryptField('patients.name', 'r1', 'Ada');
    // Authored and signed with phylax/authoring, decided with the runtime entry phylax.
    const signer = authoring.generateSigningKey();
    const signed = authoring.signBundle({ format: 'phylax.bundle.v1', version: '1', createdAt: 0,
      schema: 'entity User; entity Doc; action read appliesTo { principal: User, resource: Doc };',
      platformPolicies: [{ name: 'p.cedar', text: 'permit (principal, action, resource);' }] }, signer.secretKey);
    const engine = Engine.fromBundle(signed, { publicKey: signer.publicKey });
    const decision = engine.authorize({ principal: { type: 'User', id: 'u' }, action: { type: 'Action', id: 'read' }, resource: { type: 'Doc', id: 'd' } });
    let code, authoringOnly;
    try { k.decryptField('patients.name', 'r2', ct); } catch (e) { code = e instanceof PhylaxError && e.code; }
    try { Engine.healthcare(); } catch (e) { authoringOnly = e.code; }
    const header = signWebhook('body', 'whsec_x');
    console.log(JSON.stringify({
      plain: k.decryptField('patients.name', 'r1', ct), code, decision: decision.decision, authoringOnly,
      hash: authoring.Engine.healthcare().bundleHash.slice(0, 7),
      webhook: verifyWebhook(header, 'body', 'whsec_x').secretIndex, sameApi: init.Engine === Engine,
      crypto: crypto.Engine === undefined && crypto.Keyring.open(k.state(), crypto.RootKey.insecureDevKey()).decryptField('patients.name', 'r1', ct),
      wasm: import.meta.resolve('phylax/phylax.wasm').endsWith('dist/wasm/phylax_bg.wasm'),
    }));`);
  const out = JSON.parse(execFileSync(process.execPath, ['check.mjs'], { cwd: project, encoding: 'utf8' }));
  assert.deepEqual(out, { plain: 'Ada', code: 'crypto.decrypt_failed', decision: 'allow', authoringOnly: 'entry.authoring_only', hash: 'sha256:', webhook: 0, sameApi: true, crypto: 'Ada', wasm: true });
});

test('a TypeScript consumer type-checks against the shipped declarations (tsc --noEmit)', () => {
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { target: 'es2022', module: 'nodenext', moduleResolution: 'nodenext', strict: true, noEmit: true, lib: ['es2022', 'dom'], types: [], skipLibCheck: false },
    files: ['consumer.ts'],
  }));
  writeFileSync(join(project, 'consumer.ts'), `
    import { AuditChain, Engine, Keyring, PhylaxError, RootKey, TokenVerifier, issueApiKey, verifyApiKey } from 'phylax';
    import type { AuthorizeRequest, Decision, Identity, KeyringState, SignedBundle } from 'phylax';
    import { initPhylaxSync } from 'phylax/init';

    const root: RootKey = RootKey.insecureDevKey();
    const keyring = Keyring.create('acme', root);
    const state: KeyringState = keyring.state();
    const reopened: Keyring = Keyring.open(state, root);
    const ct: string = reopened.encryptField('patients.name', 'r1', 'Ada');
    const request: AuthorizeRequest = {
      principal: { type: 'User', id: 'dr' }, action: { type: 'Action', id: 'view' },
      resource: { type: 'Record', id: 'r1' }, context: { mfa: true },
    };
    const decision: Decision = Engine.healthcare().authorize(request);
    const allowed: boolean = decision.decision === 'allow';
    function load(bundle: SignedBundle, publicKey: string): Engine { return Engine.fromBundle(bundle, { publicKey }); }
    function who(v: TokenVerifier, token: string): Identity { return v.verify(token); }
    const key = issueApiKey({ tenant: 'acme', scopes: ['records:read'] });
    const scopes: string[] = verifyApiKey(key.apiKey, key.record).scopes;
    const chain = AuditChain.open('00'.repeat(32), 'acme');
    const seq: number = chain.append({ tenant: 'acme', actor: { id: 'dr' }, action: 'view', time: 1, outcome: 'success' }).seq;
    try { keyring.decryptField('f', 'r', ct); } catch (e) { if (e instanceof PhylaxError) { const c: string = e.code; void c; } }
    async function large(file: Blob): Promise<Uint8Array> { return keyring.decryptBytesAsync('f', 'r', await keyring.encryptBytesAsync('f', 'r', file)); }
    declare const module: WebAssembly.Module;
    if (Math.random() > 2) initPhylaxSync(module);
    void [allowed, load, who, scopes, seq, large];
  `);
  const tsc = () => execFileSync(join(js, 'node_modules', '.bin', 'tsc'), ['-p', join(project, 'tsconfig.json')], { cwd: project, encoding: 'utf8', stdio: 'pipe' });
  try { tsc(); } catch (err) { assert.fail(`tsc failed:\n${err.stdout}${err.stderr}`); }
  // The check is real: a type error fails it.
  writeFileSync(join(project, 'consumer.ts'), `import { Keyring } from 'phylax';\nconst n: number = Keyring.create('acme', 'not a root key');\n`);
  assert.throws(tsc, (err) => /error TS2345/.test(err.stdout) && /error TS2322/.test(err.stdout));
});

// The whole JS API in Node: the shared conformance checks, one test each, through the
// package's `node` entry, plus what only Node can check (entries, init order, exports).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import * as phylax from '../dist/authoring/node.js';
import { checks } from './conformance.mjs';
import { conformanceData, js } from './fixtures.mjs';

const data = conformanceData();

for (const [name, fn] of checks(phylax, data)) test(name, fn);

test('the package resolves to the node entry and exports the documented API', async () => {
  const resolved = await import('phylax/authoring');
  assert.equal(resolved.Engine, phylax.Engine, 'self-reference `phylax/authoring` is dist/authoring/node.js under the node condition');
  // The runtime entry: the same API; what needs Cedar's validator says where it is.
  const runtime = await import('phylax');
  for (const call of [() => runtime.Engine.fromParts({ schema: '', policies: '' }), () => runtime.Engine.healthcare(), () => runtime.validatePolicies({}), () => runtime.signBundle({}, 'k')]) {
    assert.throws(call, (e) => e instanceof runtime.PhylaxError && e.code === 'entry.authoring_only' && /phylax\/authoring/.test(e.hint));
  }
  for (const name of ['Keyring', 'RootKey', 'Engine', 'verifyBundle', 'signBundle', 'generateSigningKey', 'validatePolicies',
    'issueApiKey', 'parseApiKey', 'verifyApiKey', 'rotateApiKey', 'revokeApiKey', 'TokenVerifier', 'verifyToken',
    'signWebhook', 'verifyWebhook', 'AuditChain', 'PhylaxError', 'initPhylax', 'initPhylaxSync', 'isReady']) {
    assert.ok(name in phylax, `exports ${name}`);
  }
  assert.equal(phylax.isReady(), true);
});

test('phylax/init before initPhylax throws init.not_ready, then works after initPhylaxSync(module)', () => {
  const script = `
    import * as p from 'phylax/init';
    import { readFileSync } from 'node:fs';
    const out = [];
    try { p.RootKey.insecureDevKey(); out.push('no error'); } catch (e) { out.push(e instanceof p.PhylaxError ? e.code : 'other ' + e); }
    const module = new WebAssembly.Module(readFileSync(new URL(import.meta.resolve('phylax/phylax.wasm'))));
    p.initPhylaxSync(module);
    const k = p.Keyring.create('t', p.RootKey.insecureDevKey(), 1);
    out.push(k.decryptField('f', 'r', k.encryptField('f', 'r', 'ok')));
    console.log(JSON.stringify(out));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: js, encoding: 'utf8' });
  assert.deepEqual(JSON.parse(out), ['init.not_ready', 'ok']);
});

test('initPhylax (async) accepts bytes in a fresh process', () => {
  const script = `
    import * as p from 'phylax/init';
    import { readFileSync } from 'node:fs';
    await p.initPhylax(readFileSync(new URL(import.meta.resolve('phylax/phylax.wasm'))));
    console.log(JSON.stringify([p.isReady(), p.signWebhook('a', 's', 1).slice(0, 4)]));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: js, encoding: 'utf8' });
  assert.deepEqual(JSON.parse(out), [true, 't=1,']);
});

test('validatePolicies reports diagnostics instead of throwing', () => {
  const { pack } = data;
  const good = phylax.validatePolicies({ schema: pack.schema, policies: [{ name: 'p.cedar', text: pack.policies }] });
  assert.equal(good.valid, true, JSON.stringify(good));
  const bad = phylax.validatePolicies({ schema: pack.schema, policies: [{ name: 'p.cedar', text: 'permit (principal, action, resource) when { resource.nope };' }] });
  assert.equal(bad.valid, false);
  assert.ok(bad.diagnostics.length > 0 || bad.error, JSON.stringify(bad));
});

test('the error class: an Error with name, code and hint', () => {
  assert.throws(() => phylax.RootKey.parse('abc'), (e) => {
    assert.ok(e instanceof Error && e instanceof phylax.PhylaxError);
    assert.equal(e.name, 'PhylaxError');
    assert.equal(e.code, 'crypto.invalid_key');
    assert.ok(e.message.length > 0 && e.hint.length > 0, 'message and hint');
    return true;
  });
});

test('no secret in errors: a wrong root key does not echo the key', () => {
  const key = 'ab'.repeat(31) + 'zz';
  try { phylax.RootKey.parse(key); assert.fail('parsed'); } catch (e) {
    assert.equal(e.code, 'crypto.invalid_key');
    assert.ok(!e.message.includes(key) && !e.hint.includes(key), e.message);
  }
});

test('the shipped .wasm is the one in package.json exports', () => {
  const pkg = JSON.parse(readFileSync(join(js, 'package.json'), 'utf8'));
  const wasm = readFileSync(join(js, pkg.exports['./phylax.wasm']));
  assert.ok(WebAssembly.validate(wasm));
});

test('a trap discards the instance: objects made before refuse use, new ones work on a fresh one', async () => {
  // A trap leaves the instance's memory and stack pointer unknown; the package must never
  // compute on it again. The limits keep hostile input from trapping, so the trap is
  // raised here by hand, inside the one wrapper every call into WASM goes through.
  const { call } = await import('../dist/authoring/errors.js');
  const schema = 'entity User; entity Doc; action read appliesTo { principal: User, resource: Doc };';
  const policies = 'permit (principal, action, resource);';
  const request = { principal: { type: 'User', id: 'u' }, action: { type: 'Action', id: 'read' }, resource: { type: 'Doc', id: 'd' } };
  const engine = phylax.Engine.fromParts({ schema, policies });
  const root = phylax.RootKey.parse('0f'.repeat(32));
  const keyring = phylax.Keyring.create('acme', root, 1_700_000_000);
  const sealed = keyring.encryptField('f', 'r', 'before');
  const state = keyring.state();
  const code = (fn) => {
    try {
      fn();
    } catch (err) {
      assert.ok(err instanceof phylax.PhylaxError, `${err}`);
      return err.code;
    }
    return 'no error';
  };
  assert.equal(code(() => call(() => { throw new WebAssembly.RuntimeError('memory access out of bounds'); })), 'internal.wasm_trap');
  for (const [what, fn] of [
    ['engine', () => engine.authorize(request)],
    ['keyring', () => keyring.decryptField('f', 'r', sealed)],
    ['root key', () => phylax.Keyring.create('acme', root, 1_700_000_000)],
    ['free', () => engine.free()],
  ]) {
    assert.equal(code(fn), 'internal.instance_discarded', what);
  }
  const fresh = phylax.Engine.fromParts({ schema, policies });
  assert.equal(fresh.authorize(request).decision, 'allow');
  const reopened = phylax.Keyring.open(state, phylax.RootKey.parse('0f'.repeat(32)));
  assert.equal(reopened.decryptField('f', 'r', sealed), 'before', 'stored data opens on the fresh instance');
});

// Runtime-independent checks of the phylax package: the same code runs in Node, in the
// edge runtime (EdgeVM), in workerd and in Chromium. It takes the API object and the
// test data (see fixtures.mjs) and touches nothing else: no fs, no network, no clock
// beyond what the API itself reads (except the WebCrypto checks of platform-aead.mjs,
// which time one 16 MiB run and briefly replace crypto.getRandomValues and crypto.subtle).
//
//   import { run } from './conformance.mjs';
//   const { passed, failed, failures } = await run(phylax, data);

import { platformChecks } from './platform-aead.mjs';

const ROOT_HEX = '0f'.repeat(32);
const OTHER_ROOT_HEX = 'a5'.repeat(32);
const AUDIT_KEY = '3c'.repeat(32);
const T0 = 1_700_000_000;

class CheckFailed extends Error {}

function fail(message) {
  throw new CheckFailed(message);
}

function eq(actual, expected, what = 'value') {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) fail(`${what}: expected ${e}, got ${a}`);
}

function ok(condition, what) {
  if (!condition) fail(what);
}

/** Runs `fn`, which must throw a PhylaxError with `code` (and a message and hint). */
function throwsCode(phylax, code, fn, what = code) {
  let result;
  try {
    result = fn();
  } catch (err) {
    if (!(err instanceof phylax.PhylaxError)) fail(`${what}: expected PhylaxError ${code}, got ${err && err.name}: ${err && err.message}`);
    if (err.code !== code) fail(`${what}: expected code ${code}, got ${err.code} (${err.message})`);
    if (typeof err.message !== 'string' || err.message.length === 0) fail(`${what}: empty message`);
    if (typeof err.hint !== 'string') fail(`${what}: hint is not a string`);
    return err;
  }
  fail(`${what}: expected PhylaxError ${code}, got a result ${JSON.stringify(result)?.slice(0, 120)}`);
}

/** A bundle (unsigned) of the healthcare pack. */
export function packBundle(pack, version = '2025-01-01.1') {
  return {
    format: 'phylax.bundle.v1',
    version,
    createdAt: T0,
    schema: pack.schema,
    platformPolicies: [{ name: 'healthcare.cedar', text: pack.policies }],
    tenantPolicies: {},
    entities: pack.entities,
  };
}

const SPEC = {
  name: 'patients',
  fields: [
    { pointer: '/name' },
    { pointer: '/diagnosis' },
    { pointer: '/email', index: { normalization: 'email' } },
  ],
};

const SMALL_SCHEMA = `
entity User = { tenant: String };
entity Doc = { tenant: String, owner: User };
action read appliesTo { principal: User, resource: Doc, context: {} };
action write appliesTo { principal: User, resource: Doc, context: {} };
`;
const SMALL_POLICIES = `
@id("owner-read")
permit (principal, action == Action::"read", resource) when { resource.owner == principal };
`;

/** The checks as `[name, fn]` pairs (node:test runs them one by one). */
export function checks(phylax, data) {
  const P = phylax;
  const list = [];
  const check = (name, fn) => list.push([name, fn]);
  const root = () => P.RootKey.parse(ROOT_HEX);

  // ---------------------------------------------------------------- field encryption
  check('keyring: text round trip, format and binding', () => {
    const k = P.Keyring.create('acme', root(), T0);
    eq(k.tenant, 'acme', 'tenant');
    eq(k.activeVersion, 1, 'active version');
    for (const text of ['', 'x', 'Hypertension, stage 2', 'üñíçødé ✓ 𝄞', 'a'.repeat(5000)]) {
      const ct = k.encryptField('patients.diagnosis', 'rec-1', text);
      ok(ct.startsWith('phx1.'), `prefix of ${ct.slice(0, 8)}`);
      eq(k.decryptField('patients.diagnosis', 'rec-1', ct), text, 'plaintext');
    }
    const a = k.encryptField('patients.diagnosis', 'rec-1', 'same');
    const b = k.encryptField('patients.diagnosis', 'rec-1', 'same');
    ok(a !== b, 'two encryptions of the same text differ (random nonce)');
  });

  check('keyring: strings on either side of the glue\'s 64-unit encodeInto switch arrive intact', () => {
    // scripts/build.mjs sends strings over 64 UTF-16 units through TextEncoder#encodeInto
    // at once; shorter ones take wasm-bindgen's own path. Both must give the same UTF-8.
    const k = P.Keyring.create('acme', root(), T0);
    const utf8 = (s) => new TextDecoder().decode(new TextEncoder().encode(s));
    const texts = [
      'x'.repeat(64), 'x'.repeat(65), 'é'.repeat(64), 'é'.repeat(65), '✓'.repeat(300),
      '😀'.repeat(32), '😀'.repeat(33), `${'x'.repeat(64)}😀`, `${'ß'.repeat(80)}\u{10FFFF}`,
    ];
    for (const text of texts) {
      const ct = k.encryptField('patients.diagnosis', 'rec-1', text);
      eq(k.decryptField('patients.diagnosis', 'rec-1', ct), text, `${text.length} units from ${JSON.stringify(text.slice(0, 3))}`);
      eq(utf8(text), text, 'well-formed text is its own UTF-8 round trip');
    }
    // Lone surrogates on either path are refused before they cross (never made U+FFFD).
    for (const text of ['\uD800'.repeat(70), `${'a'.repeat(70)}\uDC00b`, '\uD800', 'a\uDC00']) {
      throwsCode(P, 'request.malformed', () => k.encryptField('patients.diagnosis', 'rec-1', text), `lone surrogate in ${text.length} units`);
    }
  });

  check('keyring: binary round trip and overhead <= 40 bytes', () => {
    const k = P.Keyring.create('acme', root(), T0);
    const plain = new Uint8Array(300).map((_, i) => i & 255);
    const ct = k.encryptBytes('patients.scan', 'rec-1', plain);
    ok(ct instanceof Uint8Array, 'ciphertext is bytes');
    ok(ct.length - plain.length <= 40, `overhead ${ct.length - plain.length}`);
    eq([...k.decryptBytes('patients.scan', 'rec-1', ct)], [...plain], 'bytes');
    ct[ct.length - 1] ^= 1;
    throwsCode(P, 'crypto.decrypt_failed', () => k.decryptBytes('patients.scan', 'rec-1', ct), 'flipped tag bit');
  });

  check('keyring: moved ciphertexts fail with crypto.decrypt_failed', () => {
    const acme = P.Keyring.create('acme', root(), T0);
    const globex = P.Keyring.create('globex', root(), T0);
    const ct = acme.encryptField('patients.diagnosis', 'rec-1', 'secret');
    throwsCode(P, 'crypto.decrypt_failed', () => acme.decryptField('patients.diagnosis', 'rec-2', ct), 'other record');
    throwsCode(P, 'crypto.decrypt_failed', () => acme.decryptField('patients.name', 'rec-1', ct), 'other field');
    throwsCode(P, 'crypto.decrypt_failed', () => globex.decryptField('patients.diagnosis', 'rec-1', ct), 'other tenant');
  });

  check('keyring: stored state reopens; a wrong root key cannot', () => {
    const k = P.Keyring.create('acme', root(), T0);
    const ct = k.encryptField('patients.name', 'r', 'Ada');
    const state = k.state();
    eq(state.tenant, 'acme', 'state tenant');
    ok(!JSON.stringify(state).includes(ROOT_HEX), 'state holds no root key');
    const again = P.Keyring.open(JSON.parse(JSON.stringify(state)), root());
    eq(again.decryptField('patients.name', 'r', ct), 'Ada', 'reopened (object)');
    eq(P.Keyring.open(JSON.stringify(state), root()).decryptField('patients.name', 'r', ct), 'Ada', 'reopened (text)');
    throwsCode(P, 'crypto.root_key_unknown', () => P.Keyring.open(state, P.RootKey.parse(OTHER_ROOT_HEX)), 'a keyring names its root key');
    const { rootKeyId, ...unnamed } = state;
    ok(typeof rootKeyId === 'string' && rootKeyId.length === 12, 'rootKeyId recorded');
    throwsCode(P, 'crypto.unwrap_failed', () => P.Keyring.open(unnamed, P.RootKey.parse(OTHER_ROOT_HEX)), 'wrong root key');
  });

  check('keyring: rotate, needsRewrap, rewrap, retire', () => {
    const k = P.Keyring.create('acme', root(), T0);
    const old = k.encryptField('patients.diagnosis', 'r', 'flu');
    eq(k.needsRewrap(old), false, 'fresh ciphertext needs no rewrap');
    eq(k.rotate(root(), T0 + 10), 2, 'new version');
    eq(k.activeVersion, 2, 'active version');
    eq(k.needsRewrap(old), true, 'old ciphertext needs rewrap');
    eq(k.decryptField('patients.diagnosis', 'r', old), 'flu', 'old still decrypts');
    const fresh = k.rewrap('patients.diagnosis', 'r', old);
    ok(fresh !== old, 'rewrap changes the ciphertext');
    eq(k.needsRewrap(fresh), false, 'rewrapped needs no rewrap');
    eq(k.decryptField('patients.diagnosis', 'r', fresh), 'flu', 'rewrapped decrypts');
    throwsCode(P, 'crypto.decrypt_failed', () => k.rewrap('patients.diagnosis', 'other', old), 'rewrap checks the binding');
    k.retire(1);
    throwsCode(P, 'crypto.unknown_key_version', () => k.decryptField('patients.diagnosis', 'r', old), 'retired version');
    eq(k.decryptField('patients.diagnosis', 'r', fresh), 'flu', 'active version still decrypts');
    const reopened = P.Keyring.open(k.state(), root());
    eq(reopened.activeVersion, 2, 'rotation survives state');
  });

  check('keyring: destroy gives crypto.key_destroyed', () => {
    const k = P.Keyring.create('acme', root(), T0);
    const ct = k.encryptField('patients.diagnosis', 'r', 'flu');
    k.destroy(T0 + 5);
    eq(k.isDestroyed, true, 'isDestroyed');
    throwsCode(P, 'crypto.key_destroyed', () => k.decryptField('patients.diagnosis', 'r', ct), 'decrypt after destroy');
    throwsCode(P, 'crypto.key_destroyed', () => k.encryptField('patients.diagnosis', 'r', 'x'), 'encrypt after destroy');
    const state = k.state();
    ok(state.destroyedAt === T0 + 5, 'destroyedAt stored');
    throwsCode(P, 'crypto.key_destroyed', () => P.Keyring.open(state, root()).decryptField('patients.diagnosis', 'r', ct), 'reopened destroyed keyring');
  });

  check('keyring: blind indexes (normalisation, tenants, rotation)', () => {
    const k = P.Keyring.create('acme', root(), T0);
    const a = k.blindIndex('patients.email', 'Alice@Example.COM ', { normalization: 'email' });
    const b = k.blindIndex('patients.email', 'alice@example.com', { normalization: 'email' });
    eq(a, b, 'email normalisation');
    ok(/^1\.[A-Za-z0-9_-]+$/.test(a), `index form ${a}`);
    ok(k.blindIndex('patients.email', 'alice@example.com') !== k.blindIndex('patients.email', 'Alice@example.com'), 'exact is case-sensitive');
    eq(k.blindIndex('patients.phone', '+1 (555) 010-9999', { normalization: 'digits' }), k.blindIndex('patients.phone', '15550109999', { normalization: 'digits' }), 'digits');
    const other = P.Keyring.create('globex', root(), T0);
    ok(other.blindIndex('patients.email', 'alice@example.com', { normalization: 'email' }) !== b, 'per-tenant index keys');
    ok(k.blindIndex('patients.other', 'alice@example.com', { normalization: 'email' }) !== b, 'per-field index keys');
    eq(k.rotateIndexKey(root(), T0 + 1), 2, 'index key version');
    const all = k.blindIndexAllVersions('patients.email', 'alice@example.com', { normalization: 'email' });
    eq(all.length, 2, 'indexes under both versions');
    ok(all[0].startsWith('2.'), 'newest first');
    eq(all[1], b, 'old index still computable');
    const short = k.blindIndex('patients.email', 'a@b.c', { normalization: 'email', bytes: 4 });
    eq(short.split('.')[1].length, 6, 'truncated to 4 bytes');
  });

  check('keyring: records with readable fields', () => {
    const k = P.Keyring.create('acme', root(), T0);
    const record = { id: 'p1', name: 'Ada Lovelace', diagnosis: 'flu', email: 'Ada@Example.com', visits: 3 };
    const enc = k.encryptRecord(SPEC, 'p1', record);
    eq(enc.record.id, 'p1', 'unlisted fields kept');
    eq(enc.record.visits, 3, 'unlisted number kept');
    for (const f of ['name', 'diagnosis', 'email']) ok(String(enc.record[f]).startsWith('phx1.'), `${f} encrypted`);
    eq(enc.indexes['/email'], k.blindIndex('patients.email', 'ada@example.com', { normalization: 'email' }), 'record index = field index');
    // Record fields hold JSON values (types survive), under the field path `patients.diagnosis`.
    eq(k.decryptField('patients.diagnosis', 'p1', enc.record.diagnosis), '"flu"', 'record field = field path patients.diagnosis');
    eq(k.decryptRecord(SPEC, 'p1', k.encryptRecord(SPEC, 'p1', { name: { first: 'Ada' }, diagnosis: 7, email: 'a@b.c' }).record).name, { first: 'Ada' }, 'non-string values');
    eq(k.decryptRecord(SPEC, 'p1', enc.record), record, 'full decrypt');
    const partial = k.decryptRecord(SPEC, 'p1', enc.record, { readable: ['/name'] });
    eq(partial, { id: 'p1', name: 'Ada Lovelace', visits: 3 }, 'only readable listed fields');
    // A missing answer is not "every field": null is refused (fail closed).
    throwsCode(P, 'request.malformed', () => k.decryptRecord(SPEC, 'p1', enc.record, { readable: null }), 'readable: null');
    throwsCode(P, 'crypto.decrypt_failed', () => k.decryptRecord(SPEC, 'p2', enc.record), 'record moved to another id');
  });

  // ---------------------------------------------------------------- authorization
  check('engine: from parts', () => {
    const engine = P.Engine.fromParts({ schema: SMALL_SCHEMA, policies: SMALL_POLICIES });
    ok(/^sha256:[0-9a-f]{64}$/.test(engine.bundleHash), `bundle hash ${engine.bundleHash}`);
    const entities = [
      { uid: { type: 'User', id: 'alice' }, attrs: { tenant: 't' }, parents: [] },
      { uid: { type: 'Doc', id: 'd1' }, attrs: { tenant: 't', owner: { type: 'User', id: 'alice' } }, parents: [] },
    ];
    const req = (action, principal) => ({
      principal: { type: 'User', id: principal }, action: { type: 'Action', id: action }, resource: { type: 'Doc', id: 'd1' },
      context: {}, entities: [...entities, { uid: { type: 'User', id: 'bob' }, attrs: { tenant: 't' }, parents: [] }],
    });
    const allow = engine.authorize(req('read', 'alice'));
    eq([allow.decision, allow.policies, allow.bundleHash], ['allow', ['owner-read'], engine.bundleHash], 'owner reads');
    eq(engine.authorize(req('write', 'alice')).decision, 'deny', 'no write policy');
    eq(engine.authorize(req('read', 'bob')).decision, 'deny', 'not the owner');
    throwsCode(P, 'policy.validation_failed', () => P.Engine.fromParts({ schema: SMALL_SCHEMA, policies: 'permit (principal, action, resource) when { resource.nope };' }), 'strict validation');
    throwsCode(P, 'policy.parse_failed', () => P.Engine.fromParts({ schema: SMALL_SCHEMA, policies: 'permit (principal' }), 'parse error');
    throwsCode(P, 'policy.schema_invalid', () => P.Engine.fromParts({ schema: 'entity {', policies: SMALL_POLICIES }), 'bad schema');
  });

  check(`engine: healthcare pack table (${data.packCases.cases.length} cases)`, () => {
    const engine = P.Engine.healthcare({ entities: data.packCases.baseEntities });
    const wrong = [];
    for (const c of data.packCases.cases) {
      let got;
      try {
        const d = engine.authorize(c.request);
        got = { decision: d.decision, policies: d.policies, auditFlags: d.auditFlags };
      } catch (err) {
        got = { error: err.code };
      }
      const want = { decision: c.decision, policies: c.policies, auditFlags: c.auditFlags };
      if (JSON.stringify(got) !== JSON.stringify(want)) wrong.push(`${c.name}: want ${JSON.stringify(want)} got ${JSON.stringify(got)}`);
    }
    ok(data.packCases.cases.length === 1456, `case count ${data.packCases.cases.length}`);
    if (wrong.length) fail(`${wrong.length} cases differ, first: ${wrong.slice(0, 3).join('; ')}`);
  });

  check('engine: signed bundle loads; tampered and foreign bundles are refused', () => {
    const key = P.generateSigningKey();
    ok(typeof key.secretKey === 'string' && typeof key.publicKey === 'string', 'key pair');
    const signed = P.signBundle(packBundle(data.pack), key.secretKey);
    ok(/^sha256:[0-9a-f]{64}$/.test(signed.hash), 'bundle hash');
    const info = P.verifyBundle(signed, key.publicKey);
    eq([info.hash, info.version, info.createdAt], [signed.hash, '2025-01-01.1', T0], 'verifyBundle');
    const engine = P.Engine.fromBundle(signed, { publicKey: key.publicKey, entities: data.packCases.baseEntities });
    eq(engine.bundleHash, signed.hash, 'engine carries the bundle hash');
    const fromText = P.Engine.fromBundle(JSON.stringify(signed), { publicKey: key.publicKey, entities: data.packCases.baseEntities });
    const pack = P.Engine.healthcare({ entities: data.packCases.baseEntities });
    for (const c of data.packCases.cases.filter((_, i) => i % 37 === 0)) {
      const d = engine.authorize(c.request);
      eq([d.decision, d.policies, d.bundleHash], [c.decision, c.policies, signed.hash], c.name);
      eq(fromText.authorize(c.request).decision, pack.authorize(c.request).decision, `${c.name} (same as the pack)`);
    }
    const tampered = JSON.parse(JSON.stringify(signed));
    tampered.bundle.platformPolicies[0].text += '\npermit (principal, action, resource);';
    throwsCode(P, 'policy.bundle_tampered', () => P.Engine.fromBundle(tampered, { publicKey: key.publicKey }), 'tampered policies');
    throwsCode(P, 'policy.bundle_tampered', () => P.verifyBundle(tampered, key.publicKey), 'verifyBundle tampered');
    const other = P.generateSigningKey();
    throwsCode(P, 'policy.bundle_signature_invalid', () => P.Engine.fromBundle(P.signBundle(packBundle(data.pack), other.secretKey), { publicKey: key.publicKey }), 'signed by another key');
    const rehashed = P.signBundle({ ...packBundle(data.pack), version: 'evil' }, other.secretKey);
    throwsCode(P, 'policy.bundle_signature_invalid', () => P.Engine.fromBundle({ ...rehashed, signature: signed.signature }, { publicKey: key.publicKey }), 'signature of another bundle');
    throwsCode(P, 'policy.bundle_malformed', () => P.Engine.fromBundle({ ...signed, signature: 'not base64!' }, { publicKey: key.publicKey }), 'garbage signature');
    throwsCode(P, 'policy.invalid_key', () => P.Engine.fromBundle(signed, { publicKey: 'nope' }), 'garbage public key');
  });

  const provider = { uid: { type: 'User', id: 'dr' }, attrs: { tenant: { type: 'Tenant', id: 'acme' } }, parents: [{ type: 'Role', id: 'provider' }] };
  const staff = { uid: { type: 'User', id: 'st' }, attrs: { tenant: { type: 'Tenant', id: 'acme' } }, parents: [{ type: 'Role', id: 'staff' }] };
  const patient = { uid: { type: 'User', id: 'pt' }, attrs: { tenant: { type: 'Tenant', id: 'acme' }, providers: [{ type: 'User', id: 'dr' }] }, parents: [{ type: 'Role', id: 'patient' }] };
  const record = { uid: { type: 'Record', id: 'rec-1' }, attrs: { tenant: { type: 'Tenant', id: 'acme' }, patient: { type: 'User', id: 'pt' } }, parents: [] };
  const foreign = { uid: { type: 'Record', id: 'rec-9' }, attrs: { tenant: { type: 'Tenant', id: 'globex' }, patient: { type: 'User', id: 'pt' } }, parents: [] };

  check('engine: batch decides many pairs, one error does not spoil the others', () => {
    const engine = P.Engine.healthcare({ entities: data.packCases.baseEntities });
    const res = engine.authorizeBatch({
      principal: { type: 'User', id: 'dr' }, context: { mfa: true }, entities: [provider, patient, record, foreign],
      items: [
        { action: { type: 'Action', id: 'view' }, resource: { type: 'Record', id: 'rec-1' } },
        { action: { type: 'Action', id: 'delete' }, resource: { type: 'Record', id: 'rec-1' } },
        { action: { type: 'Action', id: 'view' }, resource: { type: 'Record', id: 'rec-9' } },
        { action: { type: 'Action', id: 'fly' }, resource: { type: 'Record', id: 'rec-1' } },
      ],
    });
    eq(res.decisions.length, 4, 'one answer per item');
    eq(res.decisions[0].ok?.decision, 'allow', 'provider views own patient record');
    eq(res.decisions[1].ok?.decision, 'deny', 'provider cannot delete');
    eq(res.decisions[2].ok?.decision, 'deny', 'other tenant');
    ok(res.decisions[3].error && typeof res.decisions[3].error.code === 'string', `unknown action is an item error: ${JSON.stringify(res.decisions[3])}`);
    const single = engine.authorize({ principal: { type: 'User', id: 'dr' }, action: { type: 'Action', id: 'view' }, resource: { type: 'Record', id: 'rec-1' }, context: { mfa: true }, entities: [provider, patient, record] });
    eq(res.decisions[0].ok, single, 'batch item = single decision');
  });

  check('engine: readable fields feed decryptRecord', () => {
    const engine = P.Engine.healthcare({ entities: data.packCases.baseEntities });
    const k = P.Keyring.create('acme', root(), T0);
    const plain = { name: 'Ada', diagnosis: 'flu', email: 'ada@example.com' };
    const stored = k.encryptRecord(SPEC, 'rec-1', plain).record;
    const ask = (who, entity) => engine.readableFields({
      principal: { type: 'User', id: who }, resource: { type: 'Record', id: 'rec-1' }, context: { mfa: true },
      fields: ['/name', '/diagnosis'], entities: [entity, patient, record],
    });
    const forStaff = ask('st', staff);
    eq([forStaff.readable, forStaff.denied], [['/name'], ['/diagnosis']], 'staff: non-clinical only');
    // Listed fields that are not readable are dropped, not returned encrypted.
    eq(k.decryptRecord(SPEC, 'rec-1', stored, { readable: forStaff.readable }), { name: 'Ada' }, 'staff view');
    const forProvider = ask('dr', provider);
    eq([...forProvider.readable].sort(), ['/diagnosis', '/name'], 'provider reads all');
    eq(k.decryptRecord(SPEC, 'rec-1', stored, { readable: forProvider.readable }), { name: 'Ada', diagnosis: 'flu' }, 'provider view (email was not asked about)');
  });

  // ---------------------------------------------------------------- identity
  check('api keys: issue, parse, verify, scopes, typo', () => {
    const issued = P.issueApiKey({ tenant: 'acme', scopes: ['records:read'], now: T0 });
    ok(issued.apiKey.startsWith('phx_live_'), `prefix ${issued.apiKey.slice(0, 10)}`);
    ok(!JSON.stringify(issued.record).includes(issued.apiKey), 'record does not hold the key');
    eq(P.parseApiKey(issued.apiKey).keyId, issued.record.keyId, 'parse gives the key id');
    const v = P.verifyApiKey(issued.apiKey, issued.record, { requiredScopes: ['records:read'], now: T0 + 1 });
    eq([v.keyId, v.tenant, v.environment, v.scopes], [issued.record.keyId, 'acme', 'live', ['records:read']], 'verified');
    throwsCode(P, 'api_key.missing_scope', () => P.verifyApiKey(issued.apiKey, issued.record, { requiredScopes: ['records:write'], now: T0 }));
    const last = issued.apiKey.at(-1);
    const typo = issued.apiKey.slice(0, -1) + (last === 'a' ? 'b' : 'a');
    throwsCode(P, 'api_key.checksum', () => P.parseApiKey(typo), 'typo');
    throwsCode(P, 'api_key.malformed', () => P.parseApiKey('hello'), 'not a key');
    const other = P.issueApiKey({ tenant: 'acme', now: T0 });
    throwsCode(P, 'api_key.record_mismatch', () => P.verifyApiKey(other.apiKey, issued.record, { now: T0 }), 'key of another record');
    eq(P.issueApiKey({ tenant: 'acme', environment: 'test', now: T0 }).apiKey.slice(0, 9), 'phx_test_', 'test keys');
  });

  check('api keys: expiry, revocation, rotation overlap', () => {
    const issued = P.issueApiKey({ tenant: 'acme', scopes: ['records:read'], expiresAt: T0 + 100, now: T0 });
    P.verifyApiKey(issued.apiKey, issued.record, { now: T0 + 99 });
    throwsCode(P, 'api_key.expired', () => P.verifyApiKey(issued.apiKey, issued.record, { now: T0 + 100 }), 'expired');
    const revoked = P.revokeApiKey(issued.record, T0 + 1);
    throwsCode(P, 'api_key.revoked', () => P.verifyApiKey(issued.apiKey, revoked, { now: T0 + 2 }), 'revoked');
    const base = P.issueApiKey({ tenant: 'acme', scopes: ['records:read'], now: T0 });
    const rot = P.rotateApiKey(base.record, { overlapSeconds: 3600, now: T0 + 10 });
    eq(rot.previous.overlapUntil, T0 + 10 + 3600, 'overlap window');
    eq(rot.record.scopes, ['records:read'], 'scopes carried over');
    const inside = P.verifyApiKey(base.apiKey, rot.previous, { now: T0 + 3609 });
    eq(inside.replacedBy, rot.record.keyId, 'old key says what replaces it');
    throwsCode(P, 'api_key.superseded', () => P.verifyApiKey(base.apiKey, rot.previous, { now: T0 + 3610 }), 'after the overlap');
    eq(P.verifyApiKey(rot.apiKey, rot.record, { now: T0 + 99999 }).keyId, rot.record.keyId, 'new key works');
  });

  check('jwt: RS256, ES256 and EdDSA tokens verify and map to the principal', () => {
    const { config, jwks, tokens, now } = data.jwt;
    const verifier = new P.TokenVerifier(config, jwks);
    for (const name of ['rs256', 'es256', 'eddsa']) {
      const id = verifier.verify(tokens[name], now);
      eq([id.principalId, id.tenantId, id.roles, id.mfa, id.issuer, id.expiresAt], ['auth0|user-42', 'acme', ['provider'], true, config.issuer, now + 3600], name);
    }
    eq(verifier.verify(`Bearer ${tokens.eddsa}`, now).principalId, 'auth0|user-42', 'Bearer prefix');
    eq(P.verifyToken(tokens.es256, { config, jwks, now }).tenantId, 'acme', 'one-shot verifyToken');
    const edOnly = new P.TokenVerifier({ ...config, algorithms: ['EdDSA'] }, jwks);
    throwsCode(P, 'jwt.alg_not_allowed', () => edOnly.verify(tokens.rs256, now), 'allow-list');
  });

  check('jwt: bad tokens fail with distinct codes', () => {
    const { config, jwks, tokens, now } = data.jwt;
    const verifier = new P.TokenVerifier(config, jwks);
    throwsCode(P, 'jwt.wrong_issuer', () => verifier.verify(tokens.wrongIssuer, now));
    throwsCode(P, 'jwt.wrong_audience', () => verifier.verify(tokens.wrongAudience, now));
    throwsCode(P, 'jwt.expired', () => verifier.verify(tokens.expired, now));
    throwsCode(P, 'jwt.expired', () => verifier.verify(tokens.eddsa, now + 3600 + 61), 'past exp + leeway');
    eq(verifier.verify(tokens.eddsa, now + 3600 + 59).principalId, 'auth0|user-42', 'within leeway');
    throwsCode(P, 'jwt.alg_none', () => verifier.verify(tokens.algNone, now));
    throwsCode(P, 'jwt.bad_signature', () => verifier.verify(tokens.otherKey, now));
    throwsCode(P, 'jwt.unknown_kid', () => verifier.verify(tokens.unknownKid, now));
    throwsCode(P, 'jwt.malformed', () => verifier.verify('not.a.jwt', now));
    throwsCode(P, 'jwt.invalid_jwks', () => new P.TokenVerifier(config, { keys: 'nope' }), 'bad JWKS');
  });

  check('webhooks: sign, verify, rotation, tolerance, tampering', () => {
    const header = P.signWebhook('{"id":1}', 'whsec_test_secret', T0);
    ok(/^t=1700000000,v1=[0-9a-f]{64}$/.test(header), `header ${header}`);
    eq(P.verifyWebhook(header, '{"id":1}', 'whsec_test_secret', { now: T0 + 5 }), { timestamp: T0, secretIndex: 0 }, 'verify');
    eq(P.verifyWebhook(header, '{"id":1}', ['whsec_new', 'whsec_test_secret'], { now: T0 }).secretIndex, 1, 'older secret during rotation');
    throwsCode(P, 'webhook.signature_mismatch', () => P.verifyWebhook(header, '{"id":2}', 'whsec_test_secret', { now: T0 }), 'tampered payload');
    throwsCode(P, 'webhook.signature_mismatch', () => P.verifyWebhook(header, '{"id":1}', 'whsec_other', { now: T0 }), 'wrong secret');
    throwsCode(P, 'webhook.too_old', () => P.verifyWebhook(header, '{"id":1}', 'whsec_test_secret', { now: T0 + 10_000 }), 'too old');
    throwsCode(P, 'webhook.too_new', () => P.verifyWebhook(header, '{"id":1}', 'whsec_test_secret', { now: T0 - 10_000 }), 'from the future');
    throwsCode(P, 'webhook.malformed_header', () => P.verifyWebhook('garbage', '{"id":1}', 'whsec_test_secret', { now: T0 }), 'garbage header');
    const two = P.signWebhook('x', ['whsec_a', 'whsec_b'], T0);
    eq(two.split('v1=').length - 1, 2, 'one v1 per secret');
  });

  check('webhooks: the header matches an independent HMAC-SHA256', () => {
    // Python: hmac.new(b"whsec_test_secret", b"1700000000." + payload, sha256).hexdigest()
    eq(P.signWebhook('{"id":"evt_1","type":"patient.updated"}', 'whsec_test_secret', T0),
      't=1700000000,v1=dfda14f117b8ea36df8053dbbf288652cf72a56ae29320829d30839256820707', 'header');
  });

  check('audit: append, verify, tamper detection', () => {
    const chain = P.AuditChain.open(AUDIT_KEY, 'acme');
    const records = [];
    for (let i = 0; i < 5; i++) {
      records.push(chain.append({
        tenant: 'acme', actor: { id: `u${i}`, role: 'provider', sourceIp: '10.0.0.1' }, action: i % 2 ? 'update' : 'view',
        record: { type: 'patients', id: `p${i}` }, time: T0 + i, outcome: 'success', ...(i % 2 ? { changedFields: ['diagnosis'] } : {}),
      }));
    }
    eq(records.map((r) => r.seq), [1, 2, 3, 4, 5], 'sequence numbers');
    eq(records[1].prevHash, records[0].hash, 'chained');
    eq(chain.head.seq, 5, 'head');
    const good = chain.verify(records);
    eq([good.valid, good.verified], [true, 5], 'intact chain');
    const modified = JSON.parse(JSON.stringify(records));
    modified[2].event.outcome = 'failure';
    const bad = chain.verify(modified);
    eq([bad.valid, bad.fault?.kind, bad.fault?.seq, bad.fault?.code], [false, 'modified', 3, 'audit.modified'], 'modified record');
    const missing = chain.verify([records[0], records[1], records[3], records[4]]);
    eq([missing.valid, missing.fault?.kind, missing.fault?.seq], [false, 'missing', 3], 'missing record');
    const swapped = chain.verify([records[0], records[2], records[1], records[3], records[4]]);
    eq(swapped.valid, false, 'reordered records');
    const stranger = P.AuditChain.open('c3'.repeat(32), 'acme');
    eq(stranger.verify(records).valid, false, 'another key');
    const resumed = P.AuditChain.open(AUDIT_KEY, 'acme', chain.head);
    const next = resumed.append({ tenant: 'acme', actor: { id: 'u9' }, action: 'export', time: T0 + 9, outcome: 'denied' });
    eq([next.seq, next.prevHash], [6, records[4].hash], 'resume after head');
    eq(chain.verify([...records, next]).valid, true, 'resumed chain verifies');
    throwsCode(P, 'audit.invalid_input', () => P.AuditChain.open(AUDIT_KEY, 'globex', chain.head), 'head of another tenant');
    throwsCode(P, 'audit.invalid_event', () => chain.append({ tenant: 'globex', actor: { id: 'x' }, action: 'view', time: T0, outcome: 'success' }), 'event of another tenant');
  });

  // ---------------------------------------------------------------- bad input
  check('bad input: wrong types, missing and unknown fields, garbage', () => {
    const k = P.Keyring.create('acme', root(), T0);
    const engine = P.Engine.healthcare({ entities: data.packCases.baseEntities });
    // A JS value of the wrong type is the core's malformed request, as in a JSON call.
    const inv = 'request.malformed';
    throwsCode(P, inv, () => k.encryptField('patients.name', 'r', 42), 'number plaintext');
    throwsCode(P, inv, () => k.encryptField(null, 'r', 'x'), 'null field');
    throwsCode(P, inv, () => k.encryptBytes('f', 'r', 'not bytes'), 'string as bytes');
    throwsCode(P, inv, () => P.Keyring.create(7, root(), T0), 'number tenant');
    throwsCode(P, inv, () => P.Keyring.create('acme', root(), -1), 'negative time');
    throwsCode(P, inv, () => P.Keyring.create('acme', root(), 1.5), 'fractional time');
    throwsCode(P, inv, () => engine.authorize(null), 'null request');
    throwsCode(P, inv, () => engine.authorize([1, 2]), 'array request');
    throwsCode(P, inv, () => P.RootKey.parse(undefined), 'undefined root key');
    throwsCode(P, inv, () => P.Keyring.create('acme', ROOT_HEX, T0), 'root key as a string');
    throwsCode(P, inv, () => P.Keyring.open(k.state(), { inner: {} }), 'root key look-alike');
    const freed = P.RootKey.parse(ROOT_HEX);
    freed.free();
    throwsCode(P, inv, () => P.Keyring.create('acme', freed, T0), 'freed root key');
    throwsCode(P, 'crypto.invalid_key', () => P.RootKey.parse('abc'), 'short root key');
    throwsCode(P, 'crypto.malformed_ciphertext', () => k.decryptField('patients.name', 'r', 'garbage'), 'garbage ciphertext');
    throwsCode(P, 'crypto.malformed_ciphertext', () => k.decryptField('patients.name', 'r', 'phx1.AAAA'), 'truncated ciphertext');
    throwsCode(P, 'crypto.malformed_ciphertext', () => k.decryptBytes('patients.name', 'r', new Uint8Array(3)), 'short bytes');
    throwsCode(P, 'crypto.invalid_keyring', () => P.Keyring.open('{"nope":1}', root()), 'bad keyring state');
    throwsCode(P, 'crypto.invalid_keyring', () => P.Keyring.open(42, root()), 'keyring state a number');
    throwsCode(P, 'request.malformed', () => P.Keyring.open(undefined, root()), 'keyring state missing');
    const req = { principal: { type: 'User', id: 'dr' }, action: { type: 'Action', id: 'view' }, resource: { type: 'Record', id: 'rec-1' }, context: { mfa: true }, entities: [provider, patient, record] };
    throwsCode(P, 'request.malformed', () => engine.authorize({ ...req, surprise: true }), 'unknown field');
    const { principal, ...noPrincipal } = req;
    throwsCode(P, 'request.malformed', () => engine.authorize(noPrincipal), 'missing principal');
    throwsCode(P, 'request.malformed', () => engine.authorize({ ...req, principal: 'User::"dr"' }), 'principal of the wrong type');
    throwsCode(P, 'policy.invalid_entities', () => engine.authorize({ ...req, entities: [{ uid: { type: 'User', id: 'dr' }, attrs: { tenant: 5 }, parents: [] }] }), 'entity against the schema');
    throwsCode(P, 'request.malformed', () => P.issueApiKey({ tenant: 'acme', color: 'red', now: T0 }), 'unknown option');
    throwsCode(P, 'request.malformed', () => k.encryptRecord({ name: 'patients', fields: [{ pointer: '/a', extra: 1 }] }, 'r', {}), 'unknown spec field');
    throwsCode(P, 'request.malformed', () => P.Engine.fromBundle('{"bundle":{}}', { publicKey: P.generateSigningKey().publicKey }), 'empty bundle');
    const signer = P.generateSigningKey();
    throwsCode(P, 'policy.bundle_malformed', () => P.Engine.fromBundle(P.signBundle({ ...packBundle(data.pack), format: 'phylax.bundle.v0' }, signer.secretKey), { publicKey: signer.publicKey }), 'unknown bundle format');
    const hs = throwsCode(P, 'request.malformed', () => new P.TokenVerifier({ issuer: 'x', audiences: ['y'], algorithms: ['HS256'] }, { keys: [] }), 'HS256 on the allow-list');
    ok(hs.message.includes('HS256'), 'the message names the refused algorithm');
    throwsCode(P, 'webhook.invalid_secret', () => P.signWebhook('x', [], T0), 'no secret');
    // Options are checked like the core's requests: a misspelt one fails instead of being ignored.
    const issued = P.issueApiKey({ tenant: 'acme', scopes: ['records:read'], now: T0 });
    throwsCode(P, 'request.malformed', () => P.verifyApiKey(issued.apiKey, issued.record, { requiredScope: ['admin'], now: T0 }), 'misspelt option');
    throwsCode(P, 'request.malformed', () => P.verifyWebhook('t=1,v1=00', 'x', 'whsec_a', { now: T0, tolerance: 5 }), 'unknown webhook option');
    throwsCode(P, 'request.malformed', () => k.decryptRecord(SPEC, 'r', {}, { readable: '/name' }), 'readable as a string');
    throwsCode(P, 'request.malformed', () => k.decryptRecord(SPEC, 'r', {}, { readable: 5 }), 'readable as a number');
    throwsCode(P, 'request.malformed', () => P.Engine.fromBundle('{not json', { publicKey: signer.publicKey }), 'bundle text that is not JSON');
    throwsCode(P, 'request.malformed', () => P.Engine.fromParts({ schema: SMALL_SCHEMA, policies: SMALL_POLICIES, entities: 'none' }), 'entities not an array');
    throwsCode(P, 'request.malformed', () => P.Engine.fromParts({ schema: SMALL_SCHEMA, policy: SMALL_POLICIES }), 'misspelt part');
    throwsCode(P, 'jwt.invalid_jwks', () => P.verifyToken('a.b.c', { config: { issuer: 'x', audiences: ['y'] }, jwks: [], now: T0 }), 'JWKS of the wrong shape');
    throwsCode(P, 'audit.invalid_input', () => P.AuditChain.open('short', 'acme'), 'short audit key');
    // Still answering, and correctly, after all that.
    eq(engine.authorize(req).decision, 'allow', 'engine answers after bad input');
    eq(k.decryptField('patients.name', 'r', k.encryptField('patients.name', 'r', 'still fine')), 'still fine', 'keyring answers after bad input');
  });

  // ---------------------------------------------------------------- hostile input
  check('hostile: values JSON cannot carry are PhylaxErrors; BigInt carries Cedar longs exactly', () => {
    const schema = 'entity User; entity Doc; action read appliesTo { principal: User, resource: Doc, context: { n: Long } };';
    const engine = P.Engine.fromParts({ schema, policies: 'permit (principal, action, resource) when { context.n == 9007199254740993 };' });
    const req = (n) => ({ principal: { type: 'User', id: 'u' }, action: { type: 'Action', id: 'read' }, resource: { type: 'Doc', id: 'd' }, context: { n } });
    eq(engine.authorize(req(9007199254740993n)).decision, 'allow', '2^53 + 1 as a BigInt arrives exactly');
    eq(engine.authorize(req(9007199254740992)).decision, 'deny', 'the nearest Number is another value');
    eq(engine.authorize(req(-9223372036854775808n)).decision, 'deny', 'the smallest Long');
    throwsCode(P, 'policy.invalid_request', () => engine.authorize(req(9223372036854775808n)), 'beyond a 64-bit Long');
    const cyclic = { a: 1 };
    cyclic.self = cyclic;
    throwsCode(P, 'request.malformed', () => engine.authorize({ ...req(1n), context: cyclic }), 'a cycle');
    throwsCode(P, 'request.malformed', () => engine.authorize(req(Number.NaN)), 'NaN');
    let deep = {};
    for (let i = 0; i < 10000; i += 1) deep = { d: deep };
    throwsCode(P, 'limit.nesting_too_deep', () => engine.authorize({ ...req(1n), context: deep }), '10,000 levels in authorize');
    throwsCode(P, 'limit.nesting_too_deep', () => P.Keyring.open(deep, root()), '10,000 levels in Keyring.open');
    throwsCode(P, 'limit.nesting_too_deep', () => P.Engine.fromParts({ schema, policies: 'permit (principal, action, resource);', entities: [deep] }), '10,000 levels in fromParts');
    let shallow = 1;
    for (let i = 0; i < 40; i += 1) shallow = [shallow];
    throwsCode(P, 'limit.nesting_too_deep', () => engine.authorize({ ...req(1n), context: { n: 1n, x: shallow } }), '40 levels, refused by the core');
    eq(engine.authorize(req(9007199254740993n)).decision, 'allow', 'the same engine still answers');
  });

  check('hostile: tenant maps keep every own key (__proto__, constructor) and invent none', () => {
    const forbid = 'forbid (principal, action, resource);';
    const plain = P.Engine.healthcare();
    const proto = P.Engine.healthcare({ tenantPolicies: JSON.parse(`{"__proto__": "${forbid}"}`) });
    const ctor = P.Engine.healthcare({ tenantPolicies: { constructor: forbid } });
    ok(proto.bundleHash !== plain.bundleHash, 'a tenant named __proto__ keeps its policies');
    ok(ctor.bundleHash !== plain.bundleHash && ctor.bundleHash !== proto.bundleHash, 'a tenant named constructor keeps its own');
    const parts = (tenantPolicies) => P.Engine.fromParts({ schema: SMALL_SCHEMA, policies: SMALL_POLICIES, tenantPolicies }).bundleHash;
    eq(parts(JSON.parse('{}')), parts(Object.create(null)), 'an empty map invents no tenant');
    ok(parts(JSON.parse(`{"__proto__": "${forbid}"}`)) !== parts({}), 'fromParts keeps __proto__ too');
  });

  check('hostile: ids and text must be well-formed Unicode; refused, never replaced', () => {
    const k = P.Keyring.create('acme', root(), T0);
    throwsCode(P, 'request.malformed', () => P.Keyring.create('t\uD800', root(), T0), 'tenant with a lone surrogate');
    throwsCode(P, 'request.malformed', () => k.encryptField('patients.name', 'r\uD800', 'x'), 'record id with a lone surrogate');
    throwsCode(P, 'request.malformed', () => k.encryptField('f\uDC00', 'r', 'x'), 'field with a lone surrogate');
    throwsCode(P, 'request.malformed', () => k.encryptField('patients.name', 'r', 'a\uD800b'), 'plaintext with a lone surrogate');
    const ct = k.encryptField('patients.name', 'r\uD83D\uDE00', 'ok \uD83D\uDE00');
    eq(k.decryptField('patients.name', 'r\uD83D\uDE00', ct), 'ok \uD83D\uDE00', 'a surrogate pair is fine');
    throwsCode(P, 'request.malformed', () => k.decryptField('patients.name', 'r\uDE00', ct), 'the other half does not alias it');
    const engine = P.Engine.fromParts({ schema: SMALL_SCHEMA, policies: SMALL_POLICIES });
    throwsCode(P, 'request.malformed', () => engine.authorize({ principal: { type: 'User', id: 'a\uD800' }, action: { type: 'Action', id: 'read' }, resource: { type: 'Doc', id: 'd1' } }), 'entity id with a lone surrogate');
    throwsCode(P, 'request.malformed', () => engine.authorize({ principal: { type: 'User', id: 'a' }, action: { type: 'Action', id: 'read' }, resource: { type: 'Doc', id: 'd1' }, context: { ['k\uDFFF']: 1 } }), 'a key with a lone surrogate');
  });

  check('plans: planResources, planToSql and planToPrisma', () => {
    const engine = P.Engine.fromParts({ schema: SMALL_SCHEMA, policies: SMALL_POLICIES });
    const alice = { type: 'User', id: 'alice' };
    const plan = engine.planResources({ principal: alice, action: { type: 'Action', id: 'read' }, resourceType: 'Doc',
      entities: [{ uid: alice, attrs: { tenant: 'acme' }, parents: [] }] });
    eq(plan.decision, 'conditional', 'a condition');
    eq(JSON.stringify(plan.condition), JSON.stringify({ compare: { attr: 'owner', op: '==', value: { entity: alice } } }), 'owner is alice');
    eq(plan.policies.join(), 'owner-read', 'policies');
    eq(plan.bundleHash, engine.bundleHash, 'bundle hash');
    eq(engine.planResources({ principal: alice, action: { type: 'Action', id: 'write' }, resourceType: 'Doc',
      entities: [{ uid: alice, attrs: { tenant: 'acme' }, parents: [] }] }).decision, 'deny', 'no permit for write');
    const sql = P.planToSql(plan, { attributes: { owner: 'docs.owner_id' } }, 'sqlite');
    eq(JSON.stringify(sql), JSON.stringify({ sql: '(docs.owner_id = ?1)', params: ['alice'] }), 'sql');
    throwsCode(P, 'plan.mapping_missing', () => P.planToSql(plan, { attributes: {} }, 'postgres'), 'unmapped attribute');
    throwsCode(P, 'request.malformed', () => P.planToSql(plan, { attributes: {} }, 'oracle'), 'unknown dialect');
    eq(JSON.stringify(P.planToPrisma(plan, { fields: { owner: 'ownerId' } })), JSON.stringify({ ownerId: { equals: 'alice' } }), 'prisma');
    const every = { decision: 'conditional', policies: [], bundleHash: plan.bundleHash, condition: { and: [
      { or: [{ has: { attr: 'notes' } }, { not: { in: { attr: 'status', values: ['closed', 'archived'] } } }] },
      { contains: { attr: 'patient.providers', value: { entity: alice } } },
      { compare: { attr: 'level', op: '>=', value: 3 } },
      { resourceIs: { entities: [{ type: 'Doc', id: 'd1' }] } },
    ] } };
    const prisma = P.planToPrisma(every, { id: 'id', fields: { notes: 'notes', status: 'status', level: 'level', 'patient.providers': { some: 'patient.careTeam', key: 'providerId' } } });
    eq(JSON.stringify(prisma), JSON.stringify({ AND: [
      { OR: [{ notes: { not: null } }, { NOT: { status: { in: ['closed', 'archived'] } } }] },
      { patient: { careTeam: { some: { providerId: 'alice' } } } },
      { level: { gte: 3 } },
      { id: { in: ['d1'] } },
    ] }), 'every node as Prisma');
    throwsCode(P, 'plan.mapping_missing', () => P.planToPrisma(every, { fields: {} }), 'unmapped attribute (prisma)');
    eq(JSON.stringify(P.planToPrisma({ ...plan, decision: 'deny', condition: undefined }, {})), JSON.stringify({ AND: [{ OR: [] }] }), 'deny matches nothing');
    const notAlways = { ...every, condition: { not: { has: { attr: 'patient.providers' } } } };
    eq(JSON.stringify(P.planToPrisma(notAlways, { fields: { 'patient.providers': { some: 'patient.careTeam', key: 'providerId', has: 'always' } } })),
      JSON.stringify({ OR: [] }), 'not of an always-true part matches nothing (never `NOT: {}`)');
  });

  check('retention: the server\'s rule for an app\'s own rows', () => {
    const settings = { auditRetentionDays: 2557, exportWindowDays: 90 };
    const now = 1_900_000_000;
    eq(P.DAY_SECONDS, 86_400, 'a day');
    eq(P.retentionCutoff(settings, now), now - 2557 * 86_400, 'cutoff');
    eq(P.isPastRetention(settings, now - 2557 * 86_400 - 1, now), true, 'one second past');
    eq(P.isPastRetention(settings, now - 2557 * 86_400, now), false, 'at the cutoff is kept');
    eq(P.exportWindowEnd(settings, now), now + 90 * 86_400, 'window end');
    eq(P.exportWindowEnd({ ...settings, exportWindowDays: 0 }, now), now, 'a zero window');
    throwsCode(P, 'request.invalid', () => P.retentionCutoff({ ...settings, auditRetentionDays: 0 }, now), 'zero retention');
    throwsCode(P, 'request.invalid', () => P.retentionCutoff({ exportWindowDays: 90 }, now), 'missing retention');
    throwsCode(P, 'request.invalid', () => P.isPastRetention(settings, -1, now), 'negative time');
    throwsCode(P, 'request.invalid', () => P.exportWindowEnd(settings, 1.5), 'fractional time');
  });

  // Large values through WebCrypto (async checks).
  list.push(...platformChecks(P));

  return list;
}

/** Runs every check, one after the other (some are async); never rejects. */
export async function run(phylax, data) {
  const failures = [];
  let passed = 0;
  const names = [];
  for (const [name, fn] of checks(phylax, data)) {
    names.push(name);
    try {
      await fn();
      passed += 1;
    } catch (err) {
      failures.push({ name, message: err instanceof CheckFailed ? err.message : `${err && err.name}: ${err && err.message}${err && err.code ? ` (${err.code})` : ''}` });
    }
  }
  return { passed, failed: failures.length, failures, names };
}

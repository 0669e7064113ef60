// A small node:http server whose routes are protected by phylax: JWT users read records
// (decrypted down to the fields they may read), tenant API keys read through the B2B
// route, and incoming webhooks are checked for their signature.
//
// Run with: node server.mjs   (a demo setup on 127.0.0.1:3000; prints a token to try)
import { createServer as createHttpServer } from 'node:http';
import { pathToFileURL } from 'node:url';
// `phylax/authoring`: this server builds its engine from the pack's sources; a server
// that loads signed bundles needs only `phylax`.
import { Engine, Keyring, PhylaxError, TokenVerifier, parseApiKey, verifyApiKey, verifyWebhook } from 'phylax/authoring';

const SPEC = { name: 'patients', fields: [{ pointer: '/name' }, { pointer: '/diagnosis' }] };

/** The record's fields, classified for the healthcare pack (unclassified fields count as clinical). */
export const FIELD_CLASSES = [
  { uid: { type: 'Field', id: '/name' }, attrs: {}, parents: [{ type: 'FieldClass', id: 'non_clinical' }] },
  { uid: { type: 'Field', id: '/diagnosis' }, attrs: {}, parents: [{ type: 'FieldClass', id: 'clinical' }] },
];

/**
 * options: `engine` (an Engine, e.g. `Engine.healthcare({ entities: FIELD_CLASSES })`), `jwt` + `jwks`, `keyrings` (tenant → Keyring),
 * `records` (id → stored record: `{ tenant, patient, providers, data }` with `data` encrypted),
 * `apiKeys` (keyId → stored API key record), `webhookSecrets`, optional `now()`.
 */
export function createServer(options) {
  const verifier = new TokenVerifier(options.jwt, options.jwks);
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  const send = (res, status, body) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));

  function entities(principal, record, id) {
    return [
      principal,
      { uid: { type: 'User', id: record.patient }, attrs: { tenant: { type: 'Tenant', id: record.tenant }, providers: record.providers.map((p) => ({ type: 'User', id: p })) }, parents: [{ type: 'Role', id: 'patient' }] },
      { uid: { type: 'Record', id }, attrs: { tenant: { type: 'Tenant', id: record.tenant }, patient: { type: 'User', id: record.patient } }, parents: [] },
    ];
  }

  // GET /records/:id with a bearer JWT: only the fields the user may read are decrypted.
  function readRecord(req, res, id) {
    const identity = verifier.verify(req.headers.authorization ?? '', now());
    const record = options.records[id];
    if (!record) return send(res, 404, { error: { code: 'not_found' } });
    const uid = { type: 'User', id: identity.principalId };
    const principal = { uid, attrs: { tenant: { type: 'Tenant', id: identity.tenantId } }, parents: identity.roles.map((r) => ({ type: 'Role', id: r })) };
    const request = { principal: uid, resource: { type: 'Record', id }, context: { mfa: identity.mfa }, entities: entities(principal, record, id) };
    const decision = options.engine.authorize({ ...request, action: { type: 'Action', id: 'view' } });
    if (decision.decision !== 'allow') return send(res, 403, { error: { code: 'forbidden' }, policies: decision.policies });
    const { readable } = options.engine.readableFields({ ...request, fields: SPEC.fields.map((f) => f.pointer) });
    const data = options.keyrings[record.tenant].decryptRecord(SPEC, id, record.data, { readable });
    send(res, 200, { id, data, bundleHash: decision.bundleHash });
  }

  // GET /b2b/records/:id with a tenant API key (`x-api-key`), scope `records:read`.
  function readRecordB2B(req, res, id) {
    const presented = String(req.headers['x-api-key'] ?? '');
    const stored = options.apiKeys[parseApiKey(presented).keyId];
    if (!stored) return send(res, 401, { error: { code: 'api_key.unknown' } });
    const key = verifyApiKey(presented, stored, { requiredScopes: ['records:read'], now: now() });
    const record = options.records[id];
    if (!record) return send(res, 404, { error: { code: 'not_found' } });
    const uid = { type: 'ApiKey', id: key.keyId };
    const principal = { uid, attrs: { tenant: { type: 'Tenant', id: key.tenant }, scopes: key.scopes }, parents: [] };
    const decision = options.engine.authorize({ principal: uid, action: { type: 'Action', id: 'view' }, resource: { type: 'Record', id }, context: { mfa: false }, entities: entities(principal, record, id) });
    if (decision.decision !== 'allow') return send(res, 403, { error: { code: 'forbidden' } });
    send(res, 200, { id, tenant: record.tenant });
  }

  // POST /webhooks: the body must carry a valid `phylax-signature` header.
  async function webhook(req, res) {
    let body = '';
    for await (const chunk of req) body += chunk;
    const { timestamp } = verifyWebhook(String(req.headers['phylax-signature'] ?? ''), body, options.webhookSecrets, { now: now() });
    send(res, 202, { accepted: JSON.parse(body).id, timestamp });
  }

  return createHttpServer(async (req, res) => {
    try {
      const path = new URL(req.url, 'http://localhost').pathname;
      let m;
      if (req.method === 'GET' && (m = /^\/records\/([\w-]+)$/.exec(path))) return readRecord(req, res, m[1]);
      if (req.method === 'GET' && (m = /^\/b2b\/records\/([\w-]+)$/.exec(path))) return readRecordB2B(req, res, m[1]);
      if (req.method === 'POST' && path === '/webhooks') return await webhook(req, res);
      send(res, 404, { error: { code: 'not_found' } });
    } catch (err) {
      // Every phylax failure has a stable code: bad credentials are 401, the rest 400.
      if (!(err instanceof PhylaxError)) return send(res, 500, { error: { code: 'internal' } });
      const status = /^(jwt|api_key|webhook)\./.test(err.code) ? 401 : 400;
      send(res, status, { error: { code: err.code, message: err.message } });
    }
  });
}

/** Demo data: one tenant, one patient record, keys made up on the spot. */
async function demo() {
  const { generateKeyPairSync, sign } = await import('node:crypto');
  const { RootKey } = await import('phylax/authoring');
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const jwks = { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'demo' }] };
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${b64({ alg: 'EdDSA', kid: 'demo' })}.${b64({ iss: 'https://demo/', aud: 'demo', sub: 'dr-house', exp: Math.floor(Date.now() / 1000) + 3600, 'https://phylax.dev/tenant': 'acme', 'https://phylax.dev/roles': ['provider'], amr: ['mfa'] })}`;
  const token = `${input}.${sign(null, Buffer.from(input), privateKey).toString('base64url')}`;
  const keyring = Keyring.create('acme', RootKey.insecureDevKey());
  const data = keyring.encryptRecord(SPEC, 'rec-1', { name: 'Ada Lovelace', diagnosis: 'flu' }).record;
  const server = createServer({
    engine: Engine.healthcare({ entities: FIELD_CLASSES }), jwt: { issuer: 'https://demo/', audiences: ['demo'] }, jwks, keyrings: { acme: keyring },
    records: { 'rec-1': { tenant: 'acme', patient: 'ada', providers: ['dr-house'], data } }, apiKeys: {}, webhookSecrets: ['whsec_demo'],
  });
  server.listen(3000, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:3000\ncurl -H 'authorization: Bearer ${token}' http://127.0.0.1:3000/records/rec-1`));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await demo();

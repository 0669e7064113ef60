// Shared by both apps (proxy.ts on Node, middleware.ts on the edge, the route handlers):
// who is calling, and may they do this to that record. Everything is built once per
// process (or edge isolate), on first use rather than on import, so `next build` can load
// these modules without the runtime settings.
//
// Settings (environment, read at run time, never inlined at build time):
//   PHYLAX_BUNDLE             the tenant's signed policy bundle (JSON, from GET /v1/tenants/{t}/bundle)
//   PHYLAX_BUNDLE_PUBLIC_KEY  its signer's public key (GET /v1/bundles/public-key)
//   JWT_ISSUER, JWT_AUDIENCE, JWT_JWKS  the identity provider (JWKS as JSON)
//   PHYLAX_API_KEYS           stored API key records (JSON array: hashes, never keys); stands in for a table
import { Engine, parseApiKey, PhylaxError, TokenVerifier, verifyApiKey, type ApiKeyRecord, type Decision } from 'phylax';
import { RECORDS, type RecordMeta } from './records';

function setting(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

let engine: Engine | undefined;
let verifier: TokenVerifier | undefined;
let apiKeys: Map<string, ApiKeyRecord> | undefined;

/** The policy engine, loaded only if the bundle's signature verifies. */
export function policyEngine(): Engine {
  engine ??= Engine.fromBundle(setting('PHYLAX_BUNDLE'), { publicKey: setting('PHYLAX_BUNDLE_PUBLIC_KEY') });
  return engine;
}

function tokenVerifier(): TokenVerifier {
  verifier ??= new TokenVerifier({ issuer: setting('JWT_ISSUER'), audiences: [setting('JWT_AUDIENCE')] }, setting('JWT_JWKS'));
  return verifier;
}

function storedApiKey(keyId: string): ApiKeyRecord | undefined {
  apiKeys ??= new Map((JSON.parse(process.env.PHYLAX_API_KEYS ?? '[]') as ApiKeyRecord[]).map((r) => [r.keyId, r]));
  return apiKeys.get(keyId);
}

/** A verified caller: a signed-in user (JWT) or a tenant API key. */
export interface Caller {
  kind: 'user' | 'apiKey';
  id: string;
  tenant: string;
  roles: string[];
  scopes: string[];
  mfa: boolean;
}

/** A refusal the caller may see: 401 (who are you?), 403 (not this) or 404. */
export class Refusal extends Error {
  constructor(readonly status: 401 | 403 | 404, readonly code: string, message: string, readonly policies: string[] = []) {
    super(message);
  }
  response(): Response {
    const body = { error: { code: this.code, message: this.message }, ...(this.status === 403 ? { policies: this.policies } : {}) };
    return Response.json(body, { status: this.status, headers: this.status === 401 ? { 'www-authenticate': 'Bearer' } : {} });
  }
}

/** `x-api-key: phx_live_…` (B2B callers) or `authorization: Bearer <JWT>` (users). */
export function authenticate(headers: Headers): Caller {
  try {
    const apiKey = headers.get('x-api-key');
    if (apiKey) {
      const { keyId } = parseApiKey(apiKey); // shape and checksum before any lookup
      const record = storedApiKey(keyId);
      if (!record) throw new Refusal(401, 'api_key.unknown', 'no such API key');
      const key = verifyApiKey(apiKey, record); // constant time; expiry, revocation, rotation
      return { kind: 'apiKey', id: key.keyId, tenant: key.tenant, roles: [], scopes: key.scopes, mfa: false };
    }
    const authorization = headers.get('authorization');
    if (!authorization) throw new Refusal(401, 'credentials.missing', 'send a bearer token or an API key');
    const user = tokenVerifier().verify(authorization); // signature, alg, iss, aud, exp, nbf
    if (!user.tenantId) throw new Refusal(401, 'jwt.no_tenant', 'the token names no tenant');
    return { kind: 'user', id: user.principalId, tenant: user.tenantId, roles: user.roles, scopes: [], mfa: user.mfa };
  } catch (err) {
    if (err instanceof PhylaxError) throw new Refusal(401, err.code, err.message);
    throw err;
  }
}

const tenant = (id: string) => ({ type: 'Tenant', id });
const user = (id: string) => ({ type: 'User', id });

/** The request's own entities: the caller, the record's patient (with its care team) and the record. */
function requestEntities(caller: Caller, recordId: string, record: RecordMeta) {
  const providers = record.providers.map(user);
  // Each entity once: a patient reading their own record *is* the record's patient.
  const self = caller.kind === 'user' && caller.id === record.patient;
  return [
    caller.kind === 'apiKey'
      ? { uid: { type: 'ApiKey', id: caller.id }, attrs: { tenant: tenant(caller.tenant), scopes: caller.scopes }, parents: [] }
      : { uid: user(caller.id), attrs: { tenant: tenant(caller.tenant), ...(self ? { providers } : {}) }, parents: caller.roles.map((id) => ({ type: 'Role', id })) },
    ...(self ? [] : [{ uid: user(record.patient), attrs: { tenant: tenant(record.tenant), providers }, parents: [{ type: 'Role', id: 'patient' }] }]),
    { uid: { type: 'Record', id: recordId }, attrs: { tenant: tenant(record.tenant), patient: user(record.patient) }, parents: [] },
  ];
}

function principal(caller: Caller) {
  return { type: caller.kind === 'apiKey' ? 'ApiKey' : 'User', id: caller.id };
}

function lookup(recordId: string): RecordMeta {
  const record = RECORDS[recordId];
  if (!record) throw new Refusal(404, 'not_found', `no record \`${recordId}\``);
  return record;
}

/** May `caller` do `action` to record `recordId`? Answers the decision, or throws a 403 Refusal. */
export function authorizeRecord(caller: Caller, action: string, recordId: string): Decision {
  const decision = policyEngine().authorize({
    principal: principal(caller), action: { type: 'Action', id: action }, resource: { type: 'Record', id: recordId },
    context: { mfa: caller.mfa }, entities: requestEntities(caller, recordId, lookup(recordId)),
  });
  if (decision.decision !== 'allow') {
    throw new Refusal(403, 'forbidden', `\`${action}\` on \`${recordId}\` is not allowed`, decision.policies);
  }
  return decision;
}

/** Which of `fields` (JSON pointers) of the record the caller may read. */
export function readableFields(caller: Caller, recordId: string, fields: string[]) {
  return policyEngine().readableFields({
    principal: principal(caller), resource: { type: 'Record', id: recordId }, fields,
    context: { mfa: caller.mfa }, entities: requestEntities(caller, recordId, lookup(recordId)),
  });
}

/** A Refusal becomes its 401/403/404 answer; anything else is a bug and is rethrown (500). */
export function refusalResponse(err: unknown): Response {
  if (err instanceof Refusal) return err.response();
  throw err;
}

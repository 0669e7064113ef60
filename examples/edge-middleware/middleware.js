// Edge middleware (Vercel / Next.js style): verify the bearer JWT, authorize the request
// against a signed policy bundle, write an audit event, then answer 401/403 or forward
// with the decision in headers. The engine, token verifier and audit chain are built once
// per isolate and reused by every request.
//
// Run with: node ../../js/test/examples.test.mjs (runs it in the edge-runtime emulator)
// Deploy: `middleware.ts` in a Next.js app: `export const middleware = createMiddleware({...})`.
import { AuditChain, Engine, PhylaxError, TokenVerifier } from 'phylax';

/** Routes this middleware protects: method + path → Cedar action and record id. */
function route(request) {
  const { pathname } = new URL(request.url);
  const match = /^\/api\/records\/([\w-]+)(\/export)?$/.exec(pathname);
  if (!match) return null;
  const action = match[2] ? 'export' : { GET: 'view', POST: 'create', PUT: 'update', PATCH: 'update', DELETE: 'delete' }[request.method];
  return action ? { action, recordId: match[1] } : null;
}

function deny(status, code, message) {
  return Response.json({ error: { code, message } }, { status, headers: status === 401 ? { 'www-authenticate': 'Bearer' } : {} });
}

/**
 * settings: `bundle` and `publicKey` (the signed policy bundle and its signer), `jwt` and
 * `jwks` (the identity provider), `auditKey`, `lookupRecord(id)` → `{ tenant, patient }`,
 * `onAudit(record)` to ship audit records, and optionally `now()` in unix seconds.
 */
export function createMiddleware(settings) {
  // 1. Once per isolate: the bundle is loaded only after its signature verifies.
  const engine = Engine.fromBundle(settings.bundle, { publicKey: settings.publicKey });
  const verifier = new TokenVerifier(settings.jwt, settings.jwks);
  const chains = new Map();
  const now = settings.now ?? (() => Math.floor(Date.now() / 1000));

  function audit(tenant, event) {
    if (!chains.has(tenant)) chains.set(tenant, AuditChain.open(settings.auditKey, tenant));
    settings.onAudit?.(chains.get(tenant).append({ tenant, time: now(), ...event }));
  }

  return async function middleware(request) {
    const target = route(request);
    if (!target) return new Response(null, { headers: { 'x-middleware-next': '1' } });

    // 2. Who is asking: the bearer token, verified against the JWKS.
    let identity;
    try {
      identity = verifier.verify(request.headers.get('authorization') ?? '', now());
    } catch (err) {
      if (err instanceof PhylaxError) return deny(401, err.code, err.message);
      throw err;
    }

    // 3. What they ask for: the request's own entities (principal and record).
    const record = await settings.lookupRecord(target.recordId);
    if (!record) return deny(404, 'not_found', `no record \`${target.recordId}\``);
    const principal = { type: 'User', id: identity.principalId };
    const resource = { type: 'Record', id: target.recordId };
    // Each entity once: when patients read their own record, the principal *is* the
    // record's patient (Phylax refuses a uid brought twice, since the decision would
    // then depend on which copy came last).
    const providers = (record.providers ?? []).map((id) => ({ type: 'User', id }));
    const self = record.patient === identity.principalId;
    const entities = [
      { uid: principal, attrs: { tenant: { type: 'Tenant', id: identity.tenantId }, ...(self ? { providers } : {}) }, parents: identity.roles.map((id) => ({ type: 'Role', id })) },
      ...(self ? [] : [{ uid: { type: 'User', id: record.patient }, attrs: { tenant: { type: 'Tenant', id: record.tenant }, providers }, parents: [{ type: 'Role', id: 'patient' }] }]),
      { uid: resource, attrs: { tenant: { type: 'Tenant', id: record.tenant }, patient: { type: 'User', id: record.patient } }, parents: [] },
    ];
    const decision = engine.authorize({
      principal, action: { type: 'Action', id: target.action }, resource, context: { mfa: identity.mfa }, entities,
    });

    // 4. Every decision is audited, in the record's tenant chain.
    audit(record.tenant, {
      actor: { id: identity.principalId, role: identity.roles[0], sourceIp: request.headers.get('x-forwarded-for') ?? undefined },
      action: 'authorization', operation: `${request.method} ${target.action}`, record: { type: 'Record', id: target.recordId },
      outcome: decision.decision === 'allow' ? 'success' : 'denied',
      decision: { bundleHash: decision.bundleHash, policyIds: decision.policies, flags: decision.auditFlags },
    });

    // 5. Deny, or forward with the decision for the route handler.
    if (decision.decision !== 'allow') return deny(403, 'forbidden', `\`${target.action}\` on \`${target.recordId}\` is not allowed`);
    return new Response(null, {
      headers: {
        'x-middleware-next': '1',
        'x-phylax-decision': decision.decision,
        'x-phylax-policies': decision.policies.join(','),
        'x-phylax-bundle': decision.bundleHash,
        'x-phylax-principal': identity.principalId,
      },
    });
  };
}

export const config = { matcher: '/api/records/:path*' };

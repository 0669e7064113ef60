// The guard both apps put in front of `/api/records/:id` (node-proxy/proxy.ts on Node,
// edge-middleware/middleware.ts on the edge runtime): the caller is authenticated (JWT or
// tenant API key) and authorized against the tenant's signed policy bundle before any
// route runs. Refused requests are answered here (401/403); allowed ones reach the route
// with the decision in request headers.
import { NextResponse, type NextRequest } from 'next/server';
import { authenticate, authorizeRecord, refusalResponse } from './phylax';
import { runtimeHeaders } from './runtime';

const ACTIONS: Record<string, string> = { GET: 'view', PUT: 'update', PATCH: 'update', DELETE: 'delete' };

export function guardRecord(request: NextRequest): Response {
  const recordId = request.nextUrl.pathname.split('/').pop()!;
  let response: Response;
  try {
    const caller = authenticate(request.headers);
    const decision = authorizeRecord(caller, ACTIONS[request.method] ?? 'update', recordId);
    // Overwrites whatever a client sent under these names: the route trusts only these.
    const headers = new Headers(request.headers);
    headers.set('x-phylax-principal', `${caller.kind}:${caller.id}`);
    headers.set('x-phylax-policies', decision.policies.join(','));
    headers.set('x-phylax-bundle', decision.bundleHash);
    response = NextResponse.next({ request: { headers } });
  } catch (err) {
    response = refusalResponse(err);
  }
  for (const [name, value] of Object.entries(runtimeHeaders())) response.headers.set(name, value);
  return response;
}

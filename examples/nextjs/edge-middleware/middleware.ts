// A Next.js edge middleware (the `middleware.ts` convention, deprecated in Next 16 in favour
// of `proxy.ts`, which runs on Node only), on the edge runtime: the same record guard
// (shared/guard.ts) in front of `/api/records/:id`, deciding in the edge sandbox.
import type { NextRequest } from 'next/server';
import { guardRecord } from '../shared/guard';

export function middleware(request: NextRequest) {
  return guardRecord(request);
}

export const config = { matcher: '/api/records/:id' };

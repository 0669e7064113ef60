// Next 16's proxy (formerly middleware), on the Node.js runtime: the record guard
// (shared/guard.ts) in front of `/api/records/:id`.
import type { NextRequest } from 'next/server';
import { guardRecord } from '../shared/guard';

export function proxy(request: NextRequest) {
  return guardRecord(request);
}

export const config = { matcher: '/api/records/:id' };

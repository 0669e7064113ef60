/**
 * Calls to the server's /v1 API: authenticated by the HttpOnly session cookie, with the
 * CSRF token (kept in memory) on every request, and the break-glass reason on a platform
 * admin's tenant-data requests. Answers are `{"ok": value}` or `{"error": {code, message, hint}}`.
 */
import { isAdmin, state } from './state.js';

export class ApiError extends Error {
  readonly code: string;
  readonly hint: string;
  readonly status: number;
  constructor(status: number, code: string, message: string, hint: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.hint = hint;
  }
}

export interface CallOptions {
  body?: unknown;
  query?: Record<string, string | number | undefined | null>;
  /** A tenant-data route: send the break-glass reason when the caller is the platform admin. */
  data?: boolean;
  /** Extra headers (e.g. the bearer credential at sign-in). */
  headers?: Record<string, string>;
}

/** Called when the server says the session is gone (401 outside sign-in). */
let onSignedOut: () => void = () => {};
export function setSignedOutHandler(fn: () => void): void {
  onSignedOut = fn;
}

export function url(path: string, query?: CallOptions['query']): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v !== undefined && v !== null && v !== '') params.set(k, String(v));
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

export function seg(value: string): string {
  return encodeURIComponent(value);
}

/** The raw response (after error handling): for downloads. */
export async function request(method: string, path: string, opts: CallOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { accept: 'application/json', ...opts.headers };
  if (state.session) headers['x-phylax-csrf'] = state.session.csrf;
  if (opts.data && isAdmin()) {
    if (!state.breakGlass.trim()) {
      throw new ApiError(0, 'console.break_glass_reason', 'this reaches tenant data: give a break-glass reason first', 'fill in the break-glass reason field; it is recorded in the tenant\'s audit chain');
    }
    headers['x-phylax-break-glass'] = state.breakGlass.trim();
  }
  let body: string | undefined;
  if (opts.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  let res: Response;
  try {
    res = await fetch(url(path, opts.query), { method, headers, body, credentials: 'same-origin', cache: 'no-store' });
  } catch (err) {
    throw new ApiError(0, 'console.network', `the server could not be reached: ${err instanceof Error ? err.message : String(err)}`, 'check that the server is running, then retry');
  }
  if (!res.ok) {
    let error: { code?: string; message?: string; hint?: string } = {};
    try {
      error = ((await res.json()) as { error?: typeof error }).error ?? {};
    } catch {
      // not JSON: keep the status
    }
    const e = new ApiError(res.status, error.code ?? `http.${res.status}`, error.message ?? res.statusText, error.hint ?? '');
    if (res.status === 401 && state.session && !path.startsWith('/v1/session')) onSignedOut();
    throw e;
  }
  return res;
}

/** A JSON call: the `ok` value (or the whole body for the few answers without one, e.g. a bundle). */
export async function api<T>(method: string, path: string, opts: CallOptions = {}): Promise<T> {
  const res = await request(method, path, opts);
  if (res.status === 204) return undefined as T;
  const json = (await res.json()) as Record<string, unknown>;
  return (json !== null && typeof json === 'object' && 'ok' in json ? json.ok : json) as T;
}

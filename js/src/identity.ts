/** Tenant API keys, JWT bearer tokens and webhook signatures. */
import * as glue from './wasm/phylax.js';
import { call, jsonCall, nowSeconds, obj, options as known, str, toJson, uint } from './errors.js';
import { alive, currentEpoch, need } from './runtime.js';

/** What is stored for an API key: a hash, never the key. */
export type ApiKeyRecord = Record<string, unknown> & { keyId: string; tenant: string; scopes: string[] };

export interface IssuedApiKey {
  /** Show once to its owner; never store it. */
  apiKey: string;
  /** Store this, keyed by `record.keyId`. */
  record: ApiKeyRecord;
  /** After a rotation: the old key's updated record (with its overlap window). */
  previous?: ApiKeyRecord;
}

export interface VerifiedApiKey {
  keyId: string;
  tenant: string;
  environment: 'live' | 'test';
  scopes: string[];
  expiresAt?: number;
  replacedBy?: string;
  overlapUntil?: number;
}

/** `now` when given (the core checks it), the clock when not. */
function orNow(now: unknown): unknown {
  return now === undefined ? nowSeconds() : now;
}

function stateless(fn: (json: string) => string, request: object): any {
  need();
  return jsonCall(() => fn(toJson('request', request)));
}

/** A new tenant API key (`phx_live_...`). */
export function issueApiKey(options: { tenant: string; scopes?: string[]; environment?: 'live' | 'test'; expiresAt?: number; name?: string; now?: number }): IssuedApiKey {
  obj('options', options);
  return stateless(glue.issueApiKey, { scopes: [], ...options, now: orNow(options.now) });
}

/** Shape and checksum of a presented key, before any lookup: gives the `keyId` to look up. */
export function parseApiKey(apiKey: string): { keyId: string; environment: 'live' | 'test' } {
  return stateless(glue.parseApiKey, { apiKey: str('apiKey', apiKey) });
}

/** Verifies a presented key against its stored record, in constant time. */
export function verifyApiKey(apiKey: string, record: ApiKeyRecord, options: { requiredScopes?: string[]; now?: number } = {}): VerifiedApiKey {
  known('options', options, ['requiredScopes', 'now']);
  return stateless(glue.verifyApiKey, {
    apiKey: str('apiKey', apiKey), record: obj('record', record),
    ...(options.requiredScopes === undefined ? {} : { requiredScopes: options.requiredScopes }), now: orNow(options.now),
  });
}

/** Rotates: a new key, and the old record updated to work for `overlapSeconds` more. */
export function rotateApiKey(record: ApiKeyRecord, options: { overlapSeconds: number; expiresAt?: number; now?: number }): IssuedApiKey {
  known('options', options, ['overlapSeconds', 'expiresAt', 'now']);
  return stateless(glue.rotateApiKey, {
    record: obj('record', record), overlapSeconds: uint('overlapSeconds', options.overlapSeconds),
    ...(options.expiresAt === undefined ? {} : { expiresAt: options.expiresAt }), now: orNow(options.now),
  });
}

/** Revokes: the returned record no longer verifies. */
export function revokeApiKey(record: ApiKeyRecord, now: number = nowSeconds()): ApiKeyRecord {
  return stateless(glue.revokeApiKey, { record: obj('record', record), now }).record;
}

export interface JwtConfig {
  issuer: string;
  audiences: string[];
  /** Allowed: `RS256`, `ES256`, `EdDSA` (HS* and `none` cannot be configured). */
  algorithms?: ('RS256' | 'ES256' | 'EdDSA')[];
  leewaySeconds?: number;
  /** Claim names: `principal`, `tenant`, `roles`, `amr`, `mfaValues`, `expose`. */
  claims?: Record<string, unknown>;
  requireTenant?: boolean;
}

/** Who a verified token names, mapped for the policy engine. */
export interface Identity {
  principalId: string;
  tenantId?: string;
  roles: string[];
  mfa: boolean;
  issuer: string;
  expiresAt: number;
  claims: Record<string, unknown>;
}

/** A JWT verifier: configuration and JWKS parsed once, many tokens verified. */
export class TokenVerifier {
  readonly #inner: glue.TokenVerifier;
  readonly #epoch = currentEpoch();

  constructor(config: JwtConfig, jwks: { keys: unknown[] } | string) {
    need();
    this.#inner = call(() => {
      // The core judges the JWKS (`jwt.invalid_jwks`), whatever its shape.
      const jwksJson = typeof jwks === 'string' ? str('jwks', jwks) : toJson('jwks', jwks ?? null);
      return new glue.TokenVerifier(toJson('config', obj('config', config)), jwksJson);
    });
  }

  /** Runs `fn` on the WASM verifier, if it still belongs to the current instance. */
  #use<T>(fn: (inner: glue.TokenVerifier) => T): T {
    return call(() => {
      alive(this.#epoch);
      return fn(this.#inner);
    });
  }

  /** Verifies signature, algorithm, issuer, audience, `exp`/`nbf`; a `Bearer ` prefix is accepted. */
  verify(token: string, now: number = nowSeconds()): Identity {
    return this.#use((inner) => JSON.parse(inner.verify(str('token', token), uint('now', now))));
  }

  free(): void {
    this.#use((inner) => inner.free());
  }
}

/** One-shot token verification. */
export function verifyToken(token: string, options: { config: JwtConfig; jwks: { keys: unknown[] }; now?: number }): Identity {
  known('options', options, ['config', 'jwks', 'now']);
  // The core judges the JWKS (`jwt.invalid_jwks`), whatever its shape.
  return stateless(glue.verifyTokenWithJwks, { token: str('token', token), config: obj('config', options.config), jwks: options.jwks, now: orNow(options.now) });
}

/** Signs a webhook payload: the `t=...,v1=...` header value (one `v1` per secret). */
export function signWebhook(payload: string, secrets: string | string[], timestamp: number = nowSeconds()): string {
  return stateless(glue.signWebhook, { payload: str('payload', payload), secrets: typeof secrets === 'string' ? [secrets] : secrets, timestamp: uint('timestamp', timestamp) }).header;
}

/** Verifies a webhook header against any of the active secrets, within the tolerance window. */
export function verifyWebhook(header: string, payload: string, secrets: string | string[], options: { now?: number; toleranceSeconds?: number } = {}): { timestamp: number; secretIndex: number } {
  known('options', options, ['now', 'toleranceSeconds']);
  return stateless(glue.verifyWebhook, {
    header: str('header', header), payload: str('payload', payload), secrets: typeof secrets === 'string' ? [secrets] : secrets,
    now: orNow(options.now), ...(options.toleranceSeconds === undefined ? {} : { toleranceSeconds: options.toleranceSeconds }),
  });
}

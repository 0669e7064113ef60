/** Authorization: a Cedar engine built once, answering many requests. */
import * as glue from './wasm/phylax.js';
import { call, jsonCall, obj, options as known, parseJson, PhylaxError, str } from './errors.js';
import { need } from './runtime.js';

/** A Cedar entity uid: `{ type: "User", id: "alice" }`. */
export interface EntityRef {
  type: string;
  id: string;
}

/** Cedar's entity JSON: `{ uid, attrs, parents, tags? }`. */
export type CedarEntity = Record<string, unknown>;

export interface AuthorizeRequest {
  principal: EntityRef;
  action: EntityRef;
  resource: EntityRef;
  context?: Record<string, unknown>;
  /** The request's own entities (principal, resource with attributes). */
  entities?: CedarEntity[];
  /** The tenant whose policies apply; taken from the resource when absent. */
  tenant?: string;
}

export interface Decision {
  decision: 'allow' | 'deny';
  /** Ids of the determining policies. */
  policies: string[];
  errors: { policy: string; message: string }[];
  /** From `@audit(...)` annotations of the determining policies, e.g. `break_glass`. */
  auditFlags: string[];
  bundleHash: string;
}

export interface BatchRequest {
  principal: EntityRef;
  context?: Record<string, unknown>;
  entities?: CedarEntity[];
  items: { action: EntityRef; resource: EntityRef; context?: Record<string, unknown> }[];
  tenant?: string;
}

/** One answer per item, in order: a decision, or the error that item alone met. */
export interface BatchResponse {
  decisions: ({ ok: Decision } | { error: { code: string; message: string; hint: string } })[];
}

export interface FieldsRequest {
  principal: EntityRef;
  resource: EntityRef;
  /** JSON pointers, e.g. `/diagnosis`; the answer's `readable` feeds `Keyring.decryptRecord`. */
  fields: string[];
  context?: Record<string, unknown>;
  entities?: CedarEntity[];
  tenant?: string;
}

export interface FieldsResponse {
  readable: string[];
  denied: string[];
  errors: { policy: string; message: string }[];
  auditFlags: string[];
  bundleHash: string;
}

export interface PolicyFile {
  name: string;
  text: string;
}

/** Schema, policies and base entities, for `Engine.fromParts`. */
export interface EngineParts {
  /** Cedar schema text, or Cedar's JSON schema (object or text). */
  schema: string | object;
  /** Platform policies: Cedar text, or named files (names appear in diagnostics). */
  policies: string | PolicyFile[];
  /** Per-tenant policies, applied only to requests in that tenant. */
  tenantPolicies?: Record<string, string | PolicyFile[]>;
  /** Base entities (roles, tenants, ...), Cedar entity JSON. */
  entities?: CedarEntity[];
  options?: Record<string, unknown>;
}

/** A signed bundle as the host serves it. */
export interface SignedBundle {
  bundle: Record<string, unknown>;
  hash: string;
  signature: string;
}

function files(name: string, policies: string | PolicyFile[]): PolicyFile[] {
  return typeof policies === 'string' ? [{ name, text: policies }] : policies;
}

/** Per-tenant policies; anything but an object is left for the core to refuse. */
function tenantFiles(value: Record<string, string | PolicyFile[]> | undefined): Record<string, PolicyFile[]> {
  if (value === undefined) return {};
  obj('tenantPolicies', value);
  const out: Record<string, PolicyFile[]> = {};
  for (const [tenant, p] of Object.entries(value)) out[tenant] = files(`${tenant}.cedar`, p);
  return out;
}

function entityList(value: unknown): CedarEntity[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    throw new PhylaxError('request.malformed', `\`entities\` must be an array of Cedar entities, not ${value === null ? 'null' : typeof value}`, 'pass Cedar entity JSON: `[{ uid, attrs, parents }]`');
  }
  return value;
}

function answer<T>(json: string): T {
  const parsed = JSON.parse(json);
  if ('ok' in parsed) return parsed.ok as T;
  const e = parsed.error;
  throw new PhylaxError(e.code, e.message, e.hint);
}

export class Engine {
  readonly #inner: glue.Engine;

  private constructor(inner: glue.Engine) {
    this.#inner = inner;
  }

  /** Builds from a schema, policies and base entities, validated in strict mode. */
  static fromParts(parts: EngineParts): Engine {
    need();
    known('parts', parts, ['schema', 'policies', 'tenantPolicies', 'entities', 'options']);
    const { schema } = parts;
    const spec = {
      // Cedar's JSON schema may come as an object; anything else goes to the core as given.
      schema: typeof schema === 'object' && schema !== null && !Array.isArray(schema) ? JSON.stringify(schema) : schema,
      platformPolicies: files('policies.cedar', parts.policies),
      tenantPolicies: tenantFiles(parts.tenantPolicies),
      entities: entityList(parts.entities),
      ...(parts.options === undefined ? {} : { options: parts.options }),
    };
    return new Engine(call(() => glue.Engine.fromSpec(JSON.stringify(spec))));
  }

  /** The built-in healthcare pack, with optional tenant policies and more base entities. */
  static healthcare(extra: { tenantPolicies?: Record<string, string | PolicyFile[]>; entities?: CedarEntity[] } = {}): Engine {
    need();
    known('extra', extra, ['tenantPolicies', 'entities']);
    const spec = JSON.parse(call(() => glue.healthcarePackSpec()));
    Object.assign(spec.tenantPolicies, tenantFiles(extra.tenantPolicies));
    spec.entities.push(...entityList(extra.entities));
    return new Engine(call(() => glue.Engine.fromSpec(JSON.stringify(spec))));
  }

  /** Loads a signed bundle, only after its Ed25519 signature verifies against `publicKey`. */
  static fromBundle(bundle: SignedBundle | string, options: { publicKey: string; entities?: CedarEntity[] }): Engine {
    need();
    known('options', options, ['publicKey', 'entities']);
    const parsed = typeof bundle === 'string' ? parseJson('bundle', bundle) : obj('bundle', bundle);
    const request = { bundle: parsed, publicKey: str('publicKey', options.publicKey), entities: entityList(options.entities) };
    return new Engine(call(() => glue.Engine.fromBundle(JSON.stringify(request))));
  }

  /** `sha256:` + hex of the policy bundle; every answer carries it. */
  get bundleHash(): string {
    return this.#inner.bundleHash;
  }

  /** One decision. Any evaluation error is a deny; bad input throws a PhylaxError. */
  authorize(request: AuthorizeRequest): Decision {
    return answer(this.#inner.authorize(JSON.stringify(obj('request', request))));
  }

  /** Many (action, resource) pairs for one principal. */
  authorizeBatch(request: BatchRequest): BatchResponse {
    return answer(this.#inner.authorizeBatch(JSON.stringify(obj('request', request))));
  }

  /** Which of the given fields (JSON pointers) of a record the principal may read. */
  readableFields(request: FieldsRequest): FieldsResponse {
    return answer(this.#inner.readableFields(JSON.stringify(obj('request', request))));
  }

  free(): void {
    this.#inner.free();
  }
}

/** Checks a bundle's signature without loading it. */
export function verifyBundle(bundle: SignedBundle, publicKey: string): { hash: string; version: string; createdAt: number } {
  need();
  return jsonCall(() => glue.verifyBundle(JSON.stringify({ bundle: obj('bundle', bundle), publicKey: str('publicKey', publicKey) })));
}

/** Signs a bundle (normally on the host). */
export function signBundle(bundle: Record<string, unknown>, signingKey: string): SignedBundle {
  need();
  return jsonCall(() => glue.signBundle(JSON.stringify({ bundle: obj('bundle', bundle), signingKey: str('signingKey', signingKey) })));
}

/** A new Ed25519 bundle signing key pair. */
export function generateSigningKey(): { secretKey: string; publicKey: string } {
  need();
  return jsonCall(() => glue.generateSigningKey());
}

/** Checks policies against a schema with file:line:column diagnostics. */
export function validatePolicies(request: Record<string, unknown>): { valid: boolean; error?: { code: string; message: string; hint: string }; diagnostics: unknown[] } {
  need();
  return jsonCall(() => glue.validatePolicies(JSON.stringify(obj('request', request))));
}

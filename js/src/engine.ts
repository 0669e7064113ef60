/** Authorization: a Cedar engine built once, answering many requests. */
import * as glue from './wasm/phylax.js';
import { call, jsonCall, obj, options as known, parseJson, PhylaxError, str, toJson } from './errors.js';
import { alive, currentEpoch, need } from './runtime.js';
import type { Plan, PlanRequest } from './plan.js';

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

/**
 * Per-tenant policies; anything but an object is left for the core to refuse. Copied
 * into an object without a prototype, so that no tenant id (`__proto__`, `constructor`)
 * can be lost to, or invented by, `Object.prototype`: every own key of the caller's
 * object is a tenant, and nothing else is.
 */
function tenantFiles(value: Record<string, string | PolicyFile[]> | undefined): Record<string, PolicyFile[]> {
  const out: Record<string, PolicyFile[]> = Object.create(null);
  if (value === undefined) return out;
  obj('tenantPolicies', value);
  for (const tenant of Object.keys(value)) addOwn(out, tenant, files(`${tenant}.cedar`, value[tenant]));
  return out;
}

/** `target[key] = value` as an own property, whatever the key (no `__proto__` setter). */
function addOwn<T>(target: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
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
  readonly #epoch = currentEpoch();

  private constructor(inner: glue.Engine) {
    this.#inner = inner;
  }

  /** Runs `fn` on the WASM engine, if it still belongs to the current instance. */
  #use<T>(fn: (inner: glue.Engine) => T): T {
    return call(() => {
      alive(this.#epoch);
      return fn(this.#inner);
    });
  }

  /**
   * Builds from a schema, policies and base entities, validated in strict mode.
   * `phylax/authoring` only: the runtime entry `phylax` loads signed bundles.
   */
  static fromParts(parts: EngineParts): Engine {
    need();
    authoringOnly('Engine.fromParts');
    return new Engine(call(() => {
      known('parts', parts, ['schema', 'policies', 'tenantPolicies', 'entities', 'options']);
      const { schema } = parts;
      const spec = {
        // Cedar's JSON schema may come as an object; anything else goes to the core as given.
        schema: typeof schema === 'object' && schema !== null && !Array.isArray(schema) ? toJson('schema', schema) : schema,
        platformPolicies: files('policies.cedar', parts.policies),
        tenantPolicies: tenantFiles(parts.tenantPolicies),
        entities: entityList(parts.entities),
        ...(parts.options === undefined ? {} : { options: parts.options }),
      };
      return glue.Engine.fromSpec(toJson('parts', spec));
    }));
  }

  /** The built-in healthcare pack, with optional tenant policies and more base entities. */
  static healthcare(extra: { tenantPolicies?: Record<string, string | PolicyFile[]>; entities?: CedarEntity[] } = {}): Engine {
    need();
    const packSpec = authoringExport<() => string>('healthcarePackSpec', 'Engine.healthcare');
    return new Engine(call(() => {
      known('extra', extra, ['tenantPolicies', 'entities']);
      const spec = JSON.parse(packSpec());
      const tenants = tenantFiles(extra.tenantPolicies);
      for (const tenant of Object.keys(tenants)) addOwn(spec.tenantPolicies, tenant, tenants[tenant]);
      spec.entities.push(...entityList(extra.entities));
      return glue.Engine.fromSpec(toJson('extra', spec));
    }));
  }

  /** Loads a signed bundle, only after its Ed25519 signature verifies against `publicKey`. */
  static fromBundle(bundle: SignedBundle | string, options: { publicKey: string; entities?: CedarEntity[] }): Engine {
    need();
    return new Engine(call(() => {
      known('options', options, ['publicKey', 'entities']);
      const parsed = typeof bundle === 'string' ? parseJson('bundle', bundle) : obj('bundle', bundle);
      const request = { bundle: parsed, publicKey: str('publicKey', options.publicKey), entities: entityList(options.entities) };
      return glue.Engine.fromBundle(toJson('bundle', request));
    }));
  }

  /** `sha256:` + hex of the policy bundle; every answer carries it. */
  get bundleHash(): string {
    return this.#use((inner) => inner.bundleHash);
  }

  /** One decision. Any evaluation error is a deny; bad input throws a PhylaxError. */
  authorize(request: AuthorizeRequest): Decision {
    return this.#use((inner) => answer(inner.authorize(toJson('request', obj('request', request)))));
  }

  /** Many (action, resource) pairs for one principal. */
  authorizeBatch(request: BatchRequest): BatchResponse {
    return this.#use((inner) => answer(inner.authorizeBatch(toJson('request', obj('request', request)))));
  }

  /** Which of the given fields (JSON pointers) of a record the principal may read. */
  readableFields(request: FieldsRequest): FieldsResponse {
    return this.#use((inner) => answer(inner.readableFields(toJson('request', obj('request', request)))));
  }

  /**
   * Which resources of a type the principal may act on, in its tenant: `allow`, `deny`
   * or a condition over the resource, from the same policies `authorize` uses. Turn it
   * into a filter with `planToSql` or `planToPrisma`.
   */
  planResources(request: PlanRequest): Plan {
    return this.#use((inner) => answer(inner.planResources(toJson('request', obj('request', request)))));
  }

  free(): void {
    this.#use((inner) => inner.free());
  }
}

/** Checks a bundle's signature without loading it. */
export function verifyBundle(bundle: SignedBundle, publicKey: string): { hash: string; version: string; createdAt: number } {
  need();
  return jsonCall(() => glue.verifyBundle(toJson('bundle', { bundle: obj('bundle', bundle), publicKey: str('publicKey', publicKey) })));
}

/**
 * Signs a bundle (normally on the host), after it builds and validates; the schema is
 * signed in Cedar's JSON form and each policy file's policies in Cedar's JSON policy
 * format beside its text, which the runtime entry decides with. `phylax/authoring` only.
 */
export function signBundle(bundle: Record<string, unknown>, signingKey: string): SignedBundle {
  need();
  const sign = authoringExport<(json: string) => string>('signBundle');
  return jsonCall(() => sign(toJson('bundle', { bundle: obj('bundle', bundle), signingKey: str('signingKey', signingKey) })));
}

/** A new Ed25519 bundle signing key pair. */
export function generateSigningKey(): { secretKey: string; publicKey: string } {
  need();
  return jsonCall(() => glue.generateSigningKey());
}

/** Checks policies against a schema with file:line:column diagnostics. `phylax/authoring` only. */
export function validatePolicies(request: Record<string, unknown>): { valid: boolean; error?: { code: string; message: string; hint: string }; diagnostics: unknown[] } {
  need();
  const validate = authoringExport<(json: string) => string>('validatePolicies');
  return jsonCall(() => validate(toJson('request', obj('request', request))));
}

/**
 * A glue function only the authoring module has, looked up by name: the runtime entry's
 * glue does not export it, and bundlers (Turbopack, webpack) refuse a static
 * `glue.signBundle` that names a missing export.
 */
function authoringExport<T>(name: string, what: string = name): T {
  authoringOnly(what);
  return (glue as unknown as Record<string, T>)[name];
}

/**
 * The runtime entry's module is built without Cedar's validator and schema-text grammar
 * (its glue has no `Engine.fromSpec`): what needs them says where they are.
 */
function authoringOnly(what: string): void {
  if (typeof (glue.Engine as unknown as { fromSpec?: unknown }).fromSpec !== 'function') {
    throw new PhylaxError('entry.authoring_only', `${what} needs Cedar's validator and schema parser, which the runtime entry \`phylax\` leaves out`, `import ${what.split('.')[0]} from \`phylax/authoring\`, or load a signed bundle with \`Engine.fromBundle\``);
  }
}


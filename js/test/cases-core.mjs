// Replays the shared conformance cases (conformance/cases/*.json, format
// `phylax.conformance.v1`, see conformance/README.md) through the package's public API.
// Runtime-independent: it takes the API object and the parsed case files and touches
// nothing else (no fs, no network, no clock), so the same code runs in Node, in the edge
// runtime (EdgeVM), in workerd and in Chromium. Only `globalThis.crypto.getRandomValues`
// is borrowed, briefly, to inject a case's nonces (see `primeNonces`).
//
//   import { runCases, replayAsync } from './cases-core.mjs';
//   const { passed, failed, failures } = runCases(phylax, [{ file: 'crypto', data }]);
//   const webcrypto = await replayAsync(phylax, [{ file: 'crypto', data }]);
//
// `replayAsync` replays the field cases again through `encryptBytesAsync` /
// `decryptBytesAsync` with their WebCrypto path forced (src/platform-aead.ts): the same
// expected bytes, made by the platform's AES-GCM instead of the core's, with the nonces
// injected the same way (that path draws its nonce from the core's pool).

export const FORMAT = 'phylax.conformance.v1';

/** Nonces the wasm32 core keeps in its pool (core/src/crypto/random.rs), 12 bytes each. */
const POOL_NONCES = 64;
const NONCE_BYTES = 12;
const POOL_BYTES = POOL_NONCES * NONCE_BYTES;
/** Where the nonce sits in a binary field ciphertext (core/src/crypto/envelope.rs). */
const NONCE_OFFSET = 6;
/** A root key for the scratch keyring that drives the pool; never used for a case. */
const SCRATCH_ROOT = 'ee'.repeat(32);

/** A failure of the runner or of the case itself (not an answer of the package). */
class CaseFailed extends Error {}

function fail(message) {
  throw new CaseFailed(message);
}

function show(value, max = 240) {
  let text;
  try {
    text = JSON.stringify(value);
  } catch {
    text = String(value);
  }
  if (text === undefined) text = String(value);
  return text.length > max ? `${text.slice(0, max)}...` : text;
}

function isObject(value) {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// ------------------------------------------------------------------ comparison

/** JSON equality: same keys (in any order), same array order, numbers as numbers. */
export function jsonEqual(a, b) {
  if (a === b) return true;
  if (typeof a === 'number' && typeof b === 'number') return a === b;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, i) => jsonEqual(item, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    if (ka.length !== kb.length) return false;
    return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && jsonEqual(a[k], b[k]));
  }
  return false;
}

/** `okIncludes`: every key of `expected` present in `actual` with an equal value (objects recursively). */
export function jsonIncludes(actual, expected) {
  if (isObject(expected)) {
    if (!isObject(actual)) return false;
    return Object.keys(expected).every((k) => Object.prototype.hasOwnProperty.call(actual, k) && jsonIncludes(actual[k], expected[k]));
  }
  return jsonEqual(actual, expected);
}

/** The first place where `actual` departs from `expected`, for the failure message. */
function firstDifference(actual, expected, includes, path = '') {
  if (isObject(expected) && isObject(actual)) {
    for (const k of Object.keys(expected)) {
      if (!Object.prototype.hasOwnProperty.call(actual, k)) return `${path}/${k}: missing (expected ${show(expected[k], 120)})`;
      const d = firstDifference(actual[k], expected[k], includes, `${path}/${k}`);
      if (d) return d;
    }
    if (!includes) {
      for (const k of Object.keys(actual)) {
        if (!Object.prototype.hasOwnProperty.call(expected, k)) return `${path}/${k}: unexpected (got ${show(actual[k], 120)})`;
      }
    }
    return null;
  }
  if (Array.isArray(expected) && Array.isArray(actual) && expected.length === actual.length) {
    for (let i = 0; i < expected.length; i++) {
      // Inside arrays the comparison is exact, as the README says.
      const d = firstDifference(actual[i], expected[i], false, `${path}/${i}`);
      if (d) return d;
    }
    return null;
  }
  if (jsonEqual(actual, expected)) return null;
  return `${path || '/'}: expected ${show(expected, 160)}, got ${show(actual, 160)}`;
}

/** Checks an answer (`{ok}` or `{error}`) against a case's `expect`; returns null or why not. */
export function checkAnswer(expect, answer) {
  if (!isObject(expect)) return `the case has no valid \`expect\`: ${show(expect)}`;
  const kinds = Object.keys(expect);
  if (kinds.length !== 1 || !['ok', 'okIncludes', 'error'].includes(kinds[0])) return `unknown \`expect\` ${show(expect)}`;
  const kind = kinds[0];
  if (kind === 'error') {
    if ('ok' in answer) return `expected error ${expect.error}, got ok ${show(answer.ok)}`;
    const { code, message, hint } = answer.error;
    if (code !== expect.error) return `expected error ${expect.error}, got ${code}: ${message}`;
    if (typeof message !== 'string' || message.length === 0) return `error ${code} has an empty message`;
    if (typeof hint !== 'string') return `error ${code} has no hint`;
    return null;
  }
  if ('error' in answer) return `expected ok, got error ${answer.error.code}: ${answer.error.message}`;
  // As the answer would cross a JSON transport: undefined properties are absent.
  const actual = answer.ok === undefined ? undefined : JSON.parse(JSON.stringify(answer.ok));
  const includes = kind === 'okIncludes';
  if (includes ? jsonIncludes(actual, expect.okIncludes) : jsonEqual(actual, expect.ok)) return null;
  return `${includes ? 'okIncludes' : 'ok'} differs at ${firstDifference(actual, includes ? expect.okIncludes : expect.ok, includes)}`;
}

// ------------------------------------------------------------------ nonce injection

function hexBytes(hex, what) {
  if (typeof hex !== 'string' || !/^([0-9a-fA-F]{2})*$/.test(hex)) fail(`${what} is not hex: ${show(hex)}`);
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function base64urlBytes(text) {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/**
 * Makes the core's next encryptions draw exactly `nonces`, without any production hook.
 *
 * On wasm32 the core takes nonces from a pool of 64 x 12 bytes that one fill refills when
 * empty (core/src/crypto/random.rs), and the package's only source of randomness is
 * `crypto.getRandomValues` (getrandom's JS backend, which looks the method up on the
 * `crypto` object at every call, in chunks of at most 256 bytes). So: shadow
 * `getRandomValues` with an own property of the `crypto` object that serves a prepared
 * stream (slot 0 junk, slots 1..k the case's nonces, the rest real random bytes), and
 * encrypt a throwaway value with a scratch keyring until the pool is refilled from that
 * stream. The throwaway encryption that triggered the refill took slot 0; the case's
 * encryptions take slots 1..k. The original method is back before the case runs.
 */
export function primeNonces(scratch, nonces) {
  if (!Array.isArray(nonces)) fail(`\`nonces\` is not an array: ${show(nonces)}`);
  if (nonces.length > POOL_NONCES - 1) fail(`${nonces.length} nonces: at most ${POOL_NONCES - 1} fit in one pool refill`);
  const crypto = globalThis.crypto;
  if (typeof crypto !== 'object' || crypto === null || typeof crypto.getRandomValues !== 'function') {
    fail('nonce injection: this runtime has no globalThis.crypto.getRandomValues');
  }
  const original = crypto.getRandomValues;
  const stream = new Uint8Array(POOL_BYTES);
  original.call(crypto, stream);
  stream.fill(0xee, 0, NONCE_BYTES);
  nonces.forEach((n, i) => {
    const bytes = hexBytes(n, `nonce ${i}`);
    if (bytes.length !== NONCE_BYTES) fail(`nonce ${i} is ${bytes.length} bytes, not ${NONCE_BYTES}`);
    stream.set(bytes, NONCE_BYTES * (i + 1));
  });

  let served = 0;
  let calls = 0;
  let overrun = null;
  const own = Object.getOwnPropertyDescriptor(crypto, 'getRandomValues');
  try {
    Object.defineProperty(crypto, 'getRandomValues', {
      configurable: true,
      writable: true,
      value: function getRandomValues(buffer) {
        calls += 1;
        if (served + buffer.length > POOL_BYTES) {
          overrun ??= `asked for ${served + buffer.length} bytes in all, more than one pool (${POOL_BYTES})`;
          return original.call(crypto, buffer);
        }
        new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength).set(stream.subarray(served, served + buffer.length));
        served += buffer.length;
        return buffer;
      },
    });
  } catch (err) {
    fail(`nonce injection: cannot shadow crypto.getRandomValues in this runtime: ${err && err.message}`);
  }
  try {
    if (crypto.getRandomValues === original) fail('nonce injection: crypto.getRandomValues could not be replaced');
    for (let i = 0; i <= POOL_NONCES && calls === 0; i++) scratch.encryptField('conformance.scratch', 'scratch', 'throwaway');
  } finally {
    if (own) Object.defineProperty(crypto, 'getRandomValues', own);
    else delete crypto.getRandomValues;
  }
  if (crypto.getRandomValues !== original) fail('nonce injection: crypto.getRandomValues could not be restored');
  if (calls === 0) fail(`nonce injection: ${POOL_NONCES + 1} encryptions never called crypto.getRandomValues (the core does not draw nonces from it)`);
  if (overrun) fail(`nonce injection: the pool refill ${overrun}`);
  if (served !== POOL_BYTES) fail(`nonce injection: the pool refill took ${served} bytes, expected ${POOL_BYTES}`);
}

/** Proves the injection in this runtime: two primed nonces come out in two ciphertexts, in order. */
export function probeNonces(phylax) {
  const root = phylax.RootKey.parse(SCRATCH_ROOT);
  const keyring = phylax.Keyring.create('conformance-probe', root, 1_700_000_000);
  try {
    const nonces = ['0102030405060708090a0b0c', 'f1f2f3f4f5f6f7f8f9fafbfc'];
    primeNonces(keyring, nonces);
    const seen = [1, 2].map(() => {
      const ct = keyring.encryptField('conformance.probe', 'probe', 'probe');
      return hex(base64urlBytes(ct.slice(ct.indexOf('.') + 1)).subarray(NONCE_OFFSET, NONCE_OFFSET + NONCE_BYTES));
    });
    if (!jsonEqual(seen, nonces)) fail(`nonce injection: primed ${show(nonces)}, the ciphertexts carry ${show(seen)}`);
  } finally {
    keyring.free();
    root.free();
  }
}

// ------------------------------------------------------------------ operations

/**
 * The request's fields, for a method that takes them as positional arguments only. A
 * request that is not an object is a call without arguments. A field the method has no
 * parameter for cannot be passed at all, so the case cannot be replayed: it fails, saying so.
 */
function fields(request, known) {
  if (!isObject(request)) return {};
  const extra = Object.keys(request).filter((k) => !known.includes(k));
  if (extra.length > 0) fail(`request field(s) ${extra.map((k) => `\`${k}\``).join(', ')}: the JS method has no parameter for them`);
  return request;
}

/**
 * The request's fields, for a method with an options object: whatever is not a positional
 * argument goes into the options, where the package rejects unknown keys as the core does.
 * `required` are fields the core requires but the JS API defaults (`now`: the clock); a
 * request without them cannot be replayed faithfully, so the case fails, saying so.
 */
function withOptions(request, required = []) {
  if (!isObject(request)) return {};
  const missing = required.filter((k) => !(k in request));
  if (missing.length > 0) fail(`request without ${missing.map((k) => `\`${k}\``).join(', ')}: the JS API defaults it (to the clock), where the core requires it`);
  return request;
}

/** `{rootKey, state}` of a keyring fixture, opened the way an application opens it. */
function openKeyring(P, fixture) {
  if (!isObject(fixture)) fail(`keyring fixture is not an object: ${show(fixture)}`);
  const root = P.RootKey.parse(fixture.rootKey);
  try {
    return P.Keyring.open(fixture.state, root);
  } finally {
    root.free();
  }
}

/** Each op: (api, context, request) => answer, as the core's JSON answer would carry it. */
const OPS = {
  buildEngine(P, ctx, req) {
    const engine = buildEngine(P, req, ctx.author);
    try {
      return { bundleHash: engine.bundleHash };
    } finally {
      engine.free();
    }
  },
  loadBundle(P, ctx, req) {
    const engine = loadBundle(P, req, ctx.author);
    try {
      return { bundleHash: engine.bundleHash };
    } finally {
      engine.free();
    }
  },
  verifyBundle(P, _ctx, req) {
    const { bundle, publicKey } = fields(req, ['bundle', 'publicKey']);
    return P.verifyBundle(bundle, publicKey);
  },
  validatePolicies(P, _ctx, req) {
    return P.validatePolicies(req);
  },
  authorize(P, ctx, req) {
    return ctx.engine().authorize(req);
  },
  authorizeBatch(P, ctx, req) {
    return ctx.engine().authorizeBatch(req);
  },
  planResources(P, ctx, req) {
    return ctx.engine().planResources(req);
  },
  planToSql(P, _ctx, req) {
    const { plan, mapping, dialect } = fields(req, ['plan', 'mapping', 'dialect']);
    return P.planToSql(plan, mapping, dialect);
  },
  readableFields(P, ctx, req) {
    return ctx.engine().readableFields(req);
  },
  openKeyring(P, _ctx, req) {
    const keyring = openKeyring(P, fields(req, ['rootKey', 'state']));
    try {
      return { tenant: keyring.tenant, activeVersion: keyring.activeVersion };
    } finally {
      keyring.free();
    }
  },
  encryptField(P, ctx, req) {
    const { field, recordId, plaintext } = fields(req, ['field', 'recordId', 'plaintext']);
    return ctx.keyring((k) => ({ ciphertext: k.encryptField(field, recordId, plaintext) }));
  },
  decryptField(P, ctx, req) {
    const { field, recordId, ciphertext } = fields(req, ['field', 'recordId', 'ciphertext']);
    return ctx.keyring((k) => ({ plaintext: k.decryptField(field, recordId, ciphertext) }));
  },
  needsRewrap(P, ctx, req) {
    // The JS method reads the header only (as the core does), so it takes no field or record.
    const { ciphertext } = fields(req, ['field', 'recordId', 'ciphertext']);
    return ctx.keyring((k) => ({ needsRewrap: k.needsRewrap(ciphertext) }));
  },
  rewrap(P, ctx, req) {
    const { field, recordId, ciphertext } = fields(req, ['field', 'recordId', 'ciphertext']);
    return ctx.keyring((k) => ({ ciphertext: k.rewrap(field, recordId, ciphertext) }));
  },
  blindIndex(P, ctx, req) {
    const { field, value, index, allVersions } = fields(req, ['field', 'value', 'index', 'allVersions']);
    if (allVersions !== undefined && typeof allVersions !== 'boolean') fail(`\`allVersions\` ${show(allVersions)} is not a boolean: the JS API has no way to pass it`);
    return ctx.keyring((k) => ({ indexes: allVersions ? k.blindIndexAllVersions(field, value, index) : [k.blindIndex(field, value, index)] }));
  },
  encryptRecord(P, ctx, req) {
    const { spec, recordId, record } = fields(req, ['spec', 'recordId', 'record']);
    return ctx.keyring((k) => k.encryptRecord(spec, recordId, record));
  },
  decryptRecord(P, ctx, req) {
    const { spec, recordId, record, readable } = fields(req, ['spec', 'recordId', 'record', 'readable']);
    return ctx.keyring((k) => ({ record: k.decryptRecord(spec, recordId, record, readable === undefined ? {} : { readable }) }));
  },
  auditAppend(P, ctx, req) {
    const { head, events } = fields(req, ['head', 'events']);
    if (!Array.isArray(events)) fail(`\`events\` ${show(events)} is not an array: the JS API appends one event at a time`);
    // As an application holding a stored head opens its chain (the genesis head included).
    const chain = P.AuditChain.open(ctx.auditKey(), isObject(head) ? head.tenant : head, head);
    try {
      const records = events.map((e) => chain.append(e));
      return { records, head: chain.head };
    } finally {
      chain.free();
    }
  },
  auditVerify(P, ctx, req) {
    const { tenant, records, ...options } = withOptions(req);
    const chain = P.AuditChain.open(ctx.auditKey(), tenant);
    try {
      return chain.verify(records, options);
    } finally {
      chain.free();
    }
  },
  parseApiKey(P, _ctx, req) {
    const { apiKey } = fields(req, ['apiKey']);
    return P.parseApiKey(apiKey);
  },
  verifyApiKey(P, _ctx, req) {
    const { apiKey, record, ...options } = withOptions(req, ['now']);
    return P.verifyApiKey(apiKey, record, options);
  },
  verifyTokenWithJwks(P, _ctx, req) {
    const { token, ...options } = withOptions(req, ['now']);
    return P.verifyToken(token, options);
  },
  signWebhook(P, _ctx, req) {
    const { payload, secrets, timestamp } = fields(withOptions(req, ['timestamp']), ['payload', 'secrets', 'timestamp']);
    return { header: P.signWebhook(payload, secrets, timestamp) };
  },
  verifyWebhook(P, _ctx, req) {
    const { header, payload, secrets, ...options } = withOptions(req, ['now']);
    return P.verifyWebhook(header, payload, secrets, options);
  },
};

/** An `EngineSpec` through `Engine.fromParts` (whose `policies` are the spec's `platformPolicies`). */
function buildEngine(P, spec, author) {
  if (author !== undefined) return viaBundle(P, spec, author);
  if (!isObject(spec)) return P.Engine.fromParts(spec);
  const { platformPolicies, ...rest } = spec;
  if ('policies' in rest) fail('the spec has a `policies` field, which `Engine.fromParts` would take for `platformPolicies`');
  return P.Engine.fromParts({ ...rest, ...('platformPolicies' in spec ? { policies: platformPolicies } : {}) });
}

/** `{bundle, publicKey, entities?}` through `Engine.fromBundle`. */
function loadBundle(P, req, author) {
  const { bundle, ...options } = withOptions(req);
  // The runtime entry refuses a bundle whose schema is Cedar text (signed before signers
  // wrote the JSON form) with `policy.schema_text_unsupported`, after every other check
  // (request shape, signature): then the same spec is signed again by `author`, loaded,
  // and answers in the original bundle's name.
  if (author !== undefined && isObject(bundle) && isObject(bundle.bundle) && hasSchemaText(bundle.bundle)) {
    try {
      return P.Engine.fromBundle(bundle, options);
    } catch (err) {
      if (!(err instanceof P.PhylaxError) || err.code !== 'policy.schema_text_unsupported') throw err;
    }
    const { format, version, createdAt, ...spec } = bundle.bundle;
    void format; void version; void createdAt;
    return viaBundle(P, { ...spec, entities: [...(spec.entities ?? []), ...(options.entities ?? [])] }, author, bundle.hash);
  }
  return P.Engine.fromBundle(bundle, options);
}

function hasSchemaText(bundle) {
  return typeof bundle.schema === 'string' && !bundle.schema.trimStart().startsWith('{');
}

/**
 * The runtime entry (`phylax`) builds no engine from parts: a spec is signed where it is
 * authored (`author`: the `phylax/authoring` API, whose `signBundle` validates it and
 * writes the schema's JSON form) and loaded with `Engine.fromBundle`. Answers name the
 * hash of what the engine was built from, so the engine reports `hash` (the spec's, as
 * `Engine.fromParts` would, or the original bundle's) in place of the re-signed one's.
 */
function viaBundle(P, spec, author, hash) {
  if (!isObject(spec)) fail(`the spec is not an object: ${show(spec)}`);
  const key = author.generateSigningKey();
  let signed;
  try {
    signed = author.signBundle({ format: 'phylax.bundle.v1', version: 'conformance', createdAt: 0, ...spec }, key.secretKey);
  } catch (err) {
    // signBundle's refusal is the build's: the same error in the runtime entry's classes.
    if (err instanceof author.PhylaxError) throw new P.PhylaxError(err.code, err.message, err.hint);
    throw err;
  }
  const engine = P.Engine.fromBundle(signed, { publicKey: key.publicKey });
  const want = hash ?? specHash(author, spec);
  return renamedHash(engine, signed.hash, want);
}

function specHash(author, spec) {
  const { platformPolicies, ...rest } = spec;
  const engine = author.Engine.fromParts({ ...rest, ...(platformPolicies === undefined ? {} : { policies: platformPolicies }) });
  try {
    return engine.bundleHash;
  } finally {
    engine.free();
  }
}

/** The engine, its answers carrying `want` wherever they carry `got` (the bundle hash). */
function renamedHash(engine, got, want) {
  const rename = (answer) => JSON.parse(JSON.stringify(answer).split(got).join(want));
  return new Proxy(engine, {
    get(target, prop) {
      if (prop === 'bundleHash') return want;
      const value = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      if (prop === 'free') return () => target.free();
      return (...args) => rename(value.apply(target, args));
    },
  });
}

// ------------------------------------------------------------------ running

/** Runs `fn`; a PhylaxError becomes the error answer, anything else fails the case. */
function answerOf(P, fn) {
  try {
    return { ok: fn() };
  } catch (err) {
    if (err instanceof CaseFailed) throw err;
    if (err instanceof P.PhylaxError) return { error: { code: err.code, message: err.message, hint: err.hint } };
    fail(`threw ${err && err.name ? err.name : typeof err}${err && err.message ? `: ${err.message}` : ` ${show(err)}`} (not a PhylaxError)`);
  }
}

function runFile(P, file, data, scratch, record, show, author, skip) {
  if (!isObject(data) || data.format !== FORMAT) {
    record(file, `refused: format ${show(isObject(data) ? data.format : data)} is not ${FORMAT}`);
    return;
  }
  // Failures read `suite/name`, as the native and wasmtime runners print them.
  const prefix = typeof data.suite === 'string' && data.suite !== '' ? data.suite : file;
  const fixtures = isObject(data.fixtures) ? data.fixtures : {};
  const engines = new Map();
  const engineOf = (name) => {
    if (typeof name !== 'string') fail('the op needs an `engine`');
    if (!engines.has(name)) {
      const fixture = fixtures.engines?.[name];
      if (!isObject(fixture)) fail(`no engine fixture \`${name}\``);
      let built;
      try {
        built = { engine: 'spec' in fixture ? buildEngine(P, fixture.spec, author) : loadBundle(P, fixture, author) };
      } catch (err) {
        built = { error: err };
      }
      engines.set(name, built);
    }
    // A fixture the package refuses answers every case on it with that refusal (a
    // PhylaxError); anything else it throws fails those cases.
    const built = engines.get(name);
    if ('error' in built) {
      if (built.error instanceof P.PhylaxError || built.error instanceof CaseFailed) throw built.error;
      fail(`engine fixture \`${name}\` threw ${built.error && built.error.name}: ${built.error && built.error.message} (not a PhylaxError)`);
    }
    return built.engine;
  };
  const names = new Set();
  try {
    for (const [i, c] of (Array.isArray(data.cases) ? data.cases : []).entries()) {
      const name = isObject(c) && typeof c.name === 'string' ? c.name : `#${i}`;
      const id = `${prefix}/${name}`;
      try {
        if (names.has(name)) fail('duplicate case name');
        names.add(name);
        const op = OPS[c.op];
        if (!op || !Object.prototype.hasOwnProperty.call(OPS, c.op)) fail(`unknown op ${show(c.op)}`);
        // The crypto entry has no Cedar: policy cases are not run there.
        if (P.Engine === undefined && POLICY_OPS.has(c.op)) {
          skip(id);
          continue;
        }
        // Authoring-only ops in the runtime entry: it must refuse them with
        // `entry.authoring_only`; the case itself is counted as not run.
        if (author !== undefined && AUTHORING_OPS.has(c.op)) {
          const refused = answerOf(P, () => op(P, {}, c.request));
          if (refused.error?.code !== 'entry.authoring_only') fail(`the runtime entry answered ${show(refused)} to ${c.op}, not entry.authoring_only`);
          skip(id);
          continue;
        }
        const ctx = {
          author,
          engine: () => engineOf(c.engine),
          auditKey: () => (typeof c.auditKey === 'string' ? c.auditKey : fail('the op needs an `auditKey`')),
          keyring: (use) => {
            const fixture = fixtures.keyrings?.[c.keyring];
            if (typeof c.keyring !== 'string' || !isObject(fixture)) fail(`no keyring fixture ${show(c.keyring)}`);
            const keyring = openKeyring(P, fixture);
            try {
              if (c.nonces !== undefined) primeNonces(scratch, c.nonces);
              return use(keyring);
            } finally {
              keyring.free();
            }
          },
        };
        const answer = answerOf(P, () => op(P, ctx, c.request));
        show(id, answer);
        record(id, checkAnswer(c.expect, answer));
      } catch (err) {
        record(id, err instanceof CaseFailed ? err.message : `runner error: ${err && err.name}: ${err && err.message}`);
      }
    }
  } finally {
    for (const { engine } of engines.values()) engine?.free();
  }
}

// ------------------------------------------------------------------ async replays (WebCrypto)

/** The test-only hook of src/platform-aead.ts: the size from which values take WebCrypto. */
const PLATFORM_HOOK = Symbol.for('phylax.test.platformAead');
const TEXT_PREFIX = 'phx1.';
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

function base64url(bytes) {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const chars = Math.ceil(((Math.min(3, bytes.length - i)) * 8) / 6);
    for (let j = 0; j < chars; j++) out += B64URL[(n >> (18 - 6 * j)) & 63];
  }
  return out;
}

/** `phx1.` + base64url as the core decodes it (no padding, zero trailing bits), or undefined. */
function decodeText(text) {
  if (!text.startsWith(TEXT_PREFIX)) return undefined;
  const body = text.slice(TEXT_PREFIX.length);
  if (!/^[A-Za-z0-9_-]*$/.test(body) || body.length % 4 === 1) return undefined;
  const bytes = base64urlBytes(body);
  return base64url(bytes) === body ? bytes : undefined;
}

function isWellFormed(text) {
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);
}

/**
 * The field ops as bytes: the text form is `phx1.` + base64url of the binary form and a
 * text value is its UTF-8, so a text case is a bytes case once the runner maps those.
 * Each returns `(keyring) => answer`, or undefined for a case with no bytes equivalent:
 * a ciphertext string that is not `phx1.` + strict base64url (the text decoder refuses it
 * before any bytes exist) or text with a lone surrogate. Values that are not strings go
 * through unmapped, and the async method must refuse them as the text method does.
 */
const ASYNC_OPS = {
  encryptField(req) {
    const { field, recordId, plaintext } = fields(req, ['field', 'recordId', 'plaintext']);
    if (typeof plaintext === 'string' && !isWellFormed(plaintext)) return undefined;
    const value = typeof plaintext === 'string' ? new TextEncoder().encode(plaintext) : plaintext;
    return async (k) => ({ ok: { ciphertext: TEXT_PREFIX + base64url(await k.encryptBytesAsync(field, recordId, value)) } });
  },
  decryptField(req) {
    const { field, recordId, ciphertext } = fields(req, ['field', 'recordId', 'ciphertext']);
    const value = typeof ciphertext === 'string' ? decodeText(ciphertext) : ciphertext;
    if (value === undefined) return undefined;
    return async (k) => {
      const bytes = await k.decryptBytesAsync(field, recordId, value);
      try {
        return { ok: { plaintext: new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes) } };
      } catch {
        // decryptField's own rule (core `decrypt_field_text`), applied by the runner.
        return { error: { code: 'crypto.malformed_ciphertext', message: 'the decrypted value is not UTF-8 text (decryptField\'s rule, applied by the runner)', hint: 'decrypt binary values with decryptBytes' } };
      }
    };
  },
};

async function replayFile(P, hook, scratch, file, data, record, skip, showAnswer) {
  if (!isObject(data) || data.format !== FORMAT) return; // runCases reports it
  const prefix = typeof data.suite === 'string' && data.suite !== '' ? data.suite : file;
  const fixtures = isObject(data.fixtures) ? data.fixtures : {};
  for (const [i, c] of (Array.isArray(data.cases) ? data.cases : []).entries()) {
    if (!isObject(c) || !Object.prototype.hasOwnProperty.call(ASYNC_OPS, c.op)) continue;
    const id = `${prefix}/${typeof c.name === 'string' ? c.name : `#${i}`} (async)`;
    try {
      const op = ASYNC_OPS[c.op](c.request);
      if (op === undefined) {
        skip(id);
        continue;
      }
      const fixture = fixtures.keyrings?.[c.keyring];
      if (typeof c.keyring !== 'string' || !isObject(fixture)) fail(`no keyring fixture ${show(c.keyring)}`);
      let keyring;
      let answer;
      try {
        keyring = openKeyring(P, fixture);
        // The WebCrypto path draws its nonce from the core's pool: primed as for runCases.
        if (c.nonces !== undefined) primeNonces(scratch, c.nonces);
        answer = await op(keyring).catch((err) => {
          if (err instanceof CaseFailed) throw err;
          if (err instanceof P.PhylaxError) return { error: { code: err.code, message: err.message, hint: err.hint } };
          fail(`rejected with ${err && err.name}: ${err && err.message} (not a PhylaxError)`);
        });
        // An answer computed by WebCrypto left the field's subkey in the keyring's cache.
        if ('ok' in answer && (await hook.cachedKeys(keyring)).length === 0) fail('answered without WebCrypto (no subkey imported)');
      } catch (err) {
        if (!(err instanceof P.PhylaxError)) throw err;
        answer = { error: { code: err.code, message: err.message, hint: err.hint } }; // the fixture did not open
      } finally {
        keyring?.free();
      }
      showAnswer(id, answer);
      record(id, checkAnswer(c.expect, answer));
    } catch (err) {
      record(id, err instanceof CaseFailed ? err.message : `runner error: ${err && err.name}: ${err && err.message}`);
    }
  }
}

/**
 * Replays the field encrypt/decrypt cases of `files` through the async API with the
 * WebCrypto path forced. Never rejects: `{ passed, failed, failures, notReplayable,
 * shown }`, `notReplayable` counting the field cases with no bytes equivalent.
 */
export async function replayAsync(phylax, files, options = {}) {
  const failures = [];
  const shown = [];
  let passed = 0;
  let notReplayable = 0;
  const record = (name, why) => {
    if (why) failures.push({ name, why });
    else passed += 1;
  };
  const showAnswer = (name, answer) => {
    if (typeof options.show === 'string' && name.includes(options.show)) shown.push({ name, answer });
  };
  const hook = phylax.Keyring?.[PLATFORM_HOOK];
  if (!hook || typeof globalThis.crypto?.subtle?.encrypt !== 'function') {
    record('async replay', hook ? 'this runtime has no crypto.subtle' : 'the package has no platformAead test hook (Keyring[Symbol.for(\'phylax.test.platformAead\')])');
    return { passed, failed: failures.length, failures, notReplayable, shown };
  }
  const before = hook.minBytes;
  hook.minBytes = 0;
  let root;
  let scratch;
  try {
    root = phylax.RootKey.parse(SCRATCH_ROOT);
    scratch = phylax.Keyring.create('conformance-scratch', root, 1_700_000_000);
    for (const { file, data } of files) await replayFile(phylax, hook, scratch, file, data, record, () => { notReplayable += 1; }, showAnswer);
  } catch (err) {
    record('async replay', `${err && err.name}: ${err && err.message}`);
  } finally {
    hook.minBytes = before;
    scratch?.free();
    root?.free();
  }
  return { passed, failed: failures.length, failures, notReplayable, shown };
}

/**
 * Runs every case of `files` (`[{ file, data }]`, data parsed JSON) through `phylax`.
 * Never throws: `{ passed, failed, failures: [{ name, why }], shown }`, where `name` is
 * `suite/case` (the file's name when it has no suite; or `nonce injection` when the runtime cannot inject nonces), and `shown`
 * holds the answers of the cases whose name contains `options.show` (for debugging).
 */
/** Ops of the policy engine (Cedar), which `phylax/crypto` leaves out. */
const POLICY_OPS = new Set(['buildEngine', 'loadBundle', 'verifyBundle', 'validatePolicies', 'authorize', 'authorizeBatch', 'readableFields', 'planResources', 'planToSql']);

/** Ops only `phylax/authoring` has. */
const AUTHORING_OPS = new Set(['validatePolicies']);

/**
 * `options.author`: the `phylax/authoring` API, when `phylax` is the runtime entry (which
 * loads engines only from signed bundles): specs are signed with it and loaded as bundles.
 */
export function runCases(phylax, files, options = {}) {
  const failures = [];
  const skipped = [];
  const shown = [];
  const show = (name, answer) => {
    if (typeof options.show === 'string' && name.includes(options.show)) shown.push({ name, answer });
  };
  let passed = 0;
  const record = (name, why) => {
    if (why) failures.push({ name, why });
    else passed += 1;
  };
  let root;
  let scratch;
  try {
    try {
      probeNonces(phylax);
    } catch (err) {
      record('nonce injection', err instanceof CaseFailed ? err.message : `${err && err.name}: ${err && err.message}`);
    }
    root = phylax.RootKey.parse(SCRATCH_ROOT);
    scratch = phylax.Keyring.create('conformance-scratch', root, 1_700_000_000);
    for (const { file, data } of files) runFile(phylax, file, data, scratch, record, show, options.author, (id) => skipped.push(id));
  } catch (err) {
    record('runner', `${err && err.name}: ${err && err.message}`);
  } finally {
    scratch?.free();
    root?.free();
  }
  return { passed, failed: failures.length, failures, shown, skipped: skipped.length };
}

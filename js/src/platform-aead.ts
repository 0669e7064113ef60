/**
 * Large field values through the platform's AES-256-GCM (WebCrypto).
 *
 * The WASM core runs AES in software: in Node it takes ~15 ms to encrypt 1 MiB, where
 * WebCrypto takes ~0.6 ms. So `Keyring.encryptBytesAsync` / `decryptBytesAsync` hand
 * values of 16 KiB and more to `crypto.subtle` for the cipher alone, and
 * the core keeps everything else: it checks the keyring and the names and gives the
 * header and associated data (`__fieldSealing`, called for every value), and it derives
 * the field's subkey (`__fieldSubkey`), imported once as a non-extractable `CryptoKey`
 * whose bytes are then zero-filled (docs/security.md, "Large payloads through
 * WebCrypto"). The result is the core's envelope byte for byte:
 * `header | nonce | AES-256-GCM(subkey, nonce, aad, value)`, the nonce drawn where the
 * core draws its own (`__fieldNonce`: its pool, filled from `crypto.getRandomValues`).
 * Smaller values, and runtimes without `crypto.subtle`, go through the core's own (sync)
 * path.
 */
import { PhylaxError, toPhylaxError } from './errors.js';

/** What a value may be given as. */
export type BinaryInput = Uint8Array | ArrayBuffer | Blob;

/** The keyring's calls into the core, each checked as the sync API checks them. */
export interface CoreKeyring {
  /** A fresh 12-byte nonce from where the core draws its own (its pool). */
  nonce(): Uint8Array;
  /** `header(6) | associated data` under `version` (0: the active one). */
  sealing(field: string, recordId: string, version: number): Uint8Array;
  /** The field's 32-byte subkey under `version`. */
  subkey(field: string, version: number): Uint8Array;
  encryptBytes(field: string, recordId: string, plaintext: Uint8Array): Uint8Array;
  decryptBytes(field: string, recordId: string, ciphertext: Uint8Array): Uint8Array;
}

// The envelope's layout (core/src/crypto/envelope.rs).
const HEADER_LEN = 6;
const NONCE_LEN = 12;
const TAG_LEN = 16;
const OVERHEAD = HEADER_LEN + NONCE_LEN + TAG_LEN;
const FORMAT_V1 = 0x01;
const ALG_AES256GCM_HKDF = 0x01;

/**
 * Values of this many bytes and more take WebCrypto. Measured (2 cores, loaded): the two
 * paths cost the same at 2-7 KiB in Node 20 (WebCrypto's fixed cost, a hop to the thread
 * pool and back, is 35-90 µs; the core takes ~13 µs per KiB) and below 1 KiB in
 * Chromium; at 16 KiB WebCrypto is 4-5x faster in both. The threshold sits above the
 * crossover so that fields of ordinary size keep their subkeys inside WASM
 * (docs/security.md).
 */
const MIN_BYTES = 16 * 1024;

/**
 * The largest ciphertext either path takes: 2^31 - 1 bytes (a value of 2 GiB - 35 bytes).
 * Node's WebCrypto refuses data of 2^31 bytes and more and aborts the process when the
 * output passes 2^31 - 1; the WASM core cannot hold a value near 2 GiB twice in its
 * 4 GiB memory (it traps). The core's own bound, AES-GCM's 2^36 bytes, is beyond both.
 */
const MAX_CIPHERTEXT = 2 ** 31 - 1;

/** Subkeys kept per keyring; the cache is emptied when full. */
const MAX_CACHED_KEYS = 1024;

let minBytes = MIN_BYTES;

/** The platform's AES-GCM, where there is one (browsers, Node >= 18, edge runtimes, workerd). */
function platform(): SubtleCrypto | undefined {
  const subtle = (globalThis as { crypto?: Crypto }).crypto?.subtle;
  return typeof subtle?.encrypt === 'function' ? subtle : undefined;
}

/** The core's error for a value that does not authenticate (core/src/crypto/error.rs, `DecryptFailed`). */
function decryptFailed(): PhylaxError {
  return new PhylaxError(
    'crypto.decrypt_failed',
    'could not decrypt: the ciphertext does not authenticate for this tenant, field and record',
    'decrypt with the same tenant, field path and record id used to encrypt, and check the value was not altered',
  );
}

function isBlob(value: unknown): value is Blob {
  return typeof Blob === 'function' && value instanceof Blob;
}

/** The size of `value` in bytes, or `request.malformed` (as the sync API's `bytes` check). */
function sizeOf(name: string, value: unknown): number {
  if (value instanceof Uint8Array || value instanceof ArrayBuffer) return value.byteLength;
  if (isBlob(value)) return value.size;
  const what = value === null ? 'null' : value === undefined ? 'undefined (missing)' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
  throw new PhylaxError('request.malformed', `\`${name}\` must be a Uint8Array, an ArrayBuffer or a Blob, not ${what}`, `pass \`${name}\` as a Uint8Array, an ArrayBuffer or a Blob`);
}

function tooLarge(name: string, size: number, max: number): PhylaxError {
  return new PhylaxError(
    'crypto.invalid_spec',
    `\`${name}\` is ${size} bytes, over the ${max} bytes the JS package encrypts or decrypts at once (a ciphertext must fit in 2^31 - 1 bytes)`,
    'split the value into parts under 2 GiB, each under its own field path or record id',
  );
}

/** `view` as WebCrypto takes it: a view of shared memory is copied (WebCrypto refuses one). */
function unshared(view: Uint8Array): Uint8Array<ArrayBuffer> {
  return Object.prototype.toString.call(view.buffer) === '[object SharedArrayBuffer]' ? view.slice() : (view as Uint8Array<ArrayBuffer>);
}

/** The bytes of `value`: at once for a view or buffer, read (a promise) for a Blob. */
function bytesOf(value: BinaryInput): Uint8Array<ArrayBuffer> | Promise<Uint8Array<ArrayBuffer>> {
  if (value instanceof Uint8Array) return unshared(value);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  return value.arrayBuffer().then((buffer) => new Uint8Array(buffer));
}

/** Imports a subkey as a non-extractable AES-GCM key; its bytes are zero-filled whatever happens. */
async function importSubkey(subtle: SubtleCrypto, bytes: Uint8Array): Promise<CryptoKey> {
  const owned = unshared(bytes);
  try {
    return await subtle.importKey('raw', owned, 'AES-GCM', false, ['encrypt', 'decrypt']);
  } finally {
    owned.fill(0);
    bytes.fill(0);
  }
}

/** One keyring's WebCrypto path and its cache of imported subkeys. */
export class PlatformAead {
  readonly #core: CoreKeyring;
  /** `version:field` -> the imported subkey (a promise while importing, so it is imported once). */
  readonly #keys = new Map<string, CryptoKey | Promise<CryptoKey>>();

  constructor(core: CoreKeyring) {
    this.#core = core;
  }

  /** Drops every imported subkey (rotation, retirement, destruction, free). */
  forget(): void {
    this.#keys.clear();
  }

  /**
   * With a view or a buffer and the subkey already imported, everything up to the
   * WebCrypto call runs before this returns, so the bytes are taken (WebCrypto copies
   * them) at the call, as the sync path takes them.
   */
  async encrypt(field: string, recordId: string, input: BinaryInput): Promise<Uint8Array> {
    const size = sizeOf('plaintext', input);
    if (size > MAX_CIPHERTEXT - OVERHEAD) throw tooLarge('plaintext', size, MAX_CIPHERTEXT - OVERHEAD);
    const subtle = platform();
    if (subtle === undefined || size < minBytes) return this.#core.encryptBytes(field, recordId, await bytesOf(input));
    // As in the core: the nonce first, then the keyring's and the names' checks.
    const nonce = unshared(this.#core.nonce());
    const sealing = unshared(this.#core.sealing(field, recordId, 0));
    const version = versionOf(sealing);
    const key = this.#key(subtle, field, version);
    const plaintext = bytesOf(input);
    const params = { name: 'AES-GCM', iv: nonce, additionalData: sealing.subarray(HEADER_LEN), tagLength: TAG_LEN * 8 };
    const sealed = await run(() => both(key, plaintext, (k, p) => subtle.encrypt(params, k, p)));
    const out = new Uint8Array(HEADER_LEN + NONCE_LEN + sealed.byteLength);
    out.set(sealing.subarray(0, HEADER_LEN));
    out.set(nonce, HEADER_LEN);
    out.set(new Uint8Array(sealed), HEADER_LEN + NONCE_LEN);
    this.#core.sealing(field, recordId, version); // not destroyed, freed or retired meanwhile
    return out;
  }

  async decrypt(field: string, recordId: string, input: BinaryInput): Promise<Uint8Array> {
    const size = sizeOf('ciphertext', input);
    if (size > MAX_CIPHERTEXT) throw tooLarge('ciphertext', size, MAX_CIPHERTEXT);
    const subtle = platform();
    const read = bytesOf(input);
    const ciphertext = isPromise(read) ? await read : read;
    if (subtle === undefined || size - OVERHEAD < minBytes) return this.#core.decryptBytes(field, recordId, ciphertext);
    const version = ciphertext[0] === FORMAT_V1 && ciphertext[1] === ALG_AES256GCM_HKDF ? versionOf(ciphertext) : 0;
    const sealing = version === 0 ? undefined : unshared(this.#core.sealing(field, recordId, version));
    if (sealing === undefined || !sameHeader(sealing, ciphertext)) {
      // Not an envelope this path opens (another format or algorithm, key version 0): the
      // core judges it, with its errors in its order (keyring, names, format, version).
      // Those checks read the first 34 bytes only, so only those cross into WASM.
      return this.#core.decryptBytes(field, recordId, ciphertext.subarray(0, OVERHEAD));
    }
    const key = this.#key(subtle, field, version);
    const iv = ciphertext.subarray(HEADER_LEN, HEADER_LEN + NONCE_LEN);
    const body = ciphertext.subarray(HEADER_LEN + NONCE_LEN);
    const params = { name: 'AES-GCM', iv, additionalData: sealing.subarray(HEADER_LEN), tagLength: TAG_LEN * 8 };
    const plain = await run(() => both(key, body, (k, b) => subtle.decrypt(params, k, b)), decryptFailed);
    this.#core.sealing(field, recordId, version); // not destroyed, freed or retired meanwhile
    return new Uint8Array(plain);
  }

  /** The field's subkey under `version`: the key itself once imported, a promise on first use. */
  #key(subtle: SubtleCrypto, field: string, version: number): CryptoKey | Promise<CryptoKey> {
    const id = `${version}:${field}`;
    const cached = this.#keys.get(id);
    if (cached !== undefined) return cached;
    if (this.#keys.size >= MAX_CACHED_KEYS) this.#keys.clear();
    const importing = importSubkey(subtle, this.#core.subkey(field, version));
    this.#keys.set(id, importing);
    importing.then(
      (key) => { if (this.#keys.get(id) === importing) this.#keys.set(id, key); },
      () => { if (this.#keys.get(id) === importing) this.#keys.delete(id); },
    );
    return importing;
  }

  /** For the tests: what is cached, without the keys. */
  async describe(): Promise<{ id: string; type: string; extractable: boolean; algorithm: string; usages: string[] }[]> {
    const out = [];
    for (const [id, key] of this.#keys) {
      const k = await key;
      out.push({ id, type: k.type, extractable: k.extractable, algorithm: k.algorithm.name, usages: [...k.usages] });
    }
    return out;
  }
}

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown }).then === 'function';
}

/** `fn(a, b)` at once when neither is a promise (WebCrypto then takes the bytes during this call), else once both resolve. */
function both<A, B, R>(a: A | Promise<A>, b: B | Promise<B>, fn: (a: A, b: B) => Promise<R>): Promise<R> {
  return isPromise(a) || isPromise(b) ? Promise.all([a, b]).then(([x, y]) => fn(x, y)) : fn(a, b);
}

/** The key version named in a header (bytes 2..6, big-endian). */
function versionOf(header: Uint8Array): number {
  return new DataView(header.buffer, header.byteOffset, HEADER_LEN).getUint32(2);
}

function sameHeader(sealing: Uint8Array, ciphertext: Uint8Array): boolean {
  for (let i = 0; i < HEADER_LEN; i += 1) if (sealing[i] !== ciphertext[i]) return false;
  return ciphertext.length >= OVERHEAD;
}

/**
 * Awaits a WebCrypto call: a rejection becomes a PhylaxError (`onOperationError` for
 * WebCrypto's `OperationError`, which for AES-GCM decryption means the tag is wrong).
 */
async function run<T>(fn: () => Promise<T>, onOperationError?: () => PhylaxError): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (onOperationError && (err as { name?: unknown } | null)?.name === 'OperationError') throw onOperationError();
    throw toPhylaxError(err);
  }
}

/**
 * Test-only, not public API (not in the types): the size from which values take
 * WebCrypto (0 forces it) and what a keyring has cached. Reached through
 * `Keyring[Symbol.for('phylax.test.platformAead')]`.
 */
export const TEST_HOOK = Symbol.for('phylax.test.platformAead');

export function testHook(of: (keyring: unknown) => PlatformAead) {
  return Object.freeze({
    get minBytes(): number {
      return minBytes;
    },
    set minBytes(value: number) {
      minBytes = Number.isSafeInteger(value) && value >= 0 ? value : MIN_BYTES;
    },
    defaultMinBytes: MIN_BYTES,
    cachedKeys: (keyring: unknown) => of(keyring).describe(),
  });
}

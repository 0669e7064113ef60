/** Field encryption: `RootKey` and `Keyring` over the Rust core's keyring. */
import * as glue from './wasm/phylax.js';
import { bytes, call, nowSeconds, obj, options as known, PhylaxError, str, toJson, uint } from './errors.js';
import { alive, currentEpoch, need } from './runtime.js';
import { PlatformAead, TEST_HOOK, testHook } from './platform-aead.js';

/** Stored keyring: wrapped keys only, safe to keep in the database. */
export interface KeyringState {
  format: number;
  tenant: string;
  dataKeys: KeySet;
  indexKeys: KeySet;
  destroyedAt?: number;
  /** Id of the root key that wrapped these keys (a one-way fingerprint). */
  rootKeyId?: string;
}

export interface KeySet {
  active: number;
  versions: { version: number; createdAt: number; wrapped: string }[];
}

export type Normalization = 'exact' | 'trim' | 'casefold' | 'email' | 'digits';

export interface IndexSpec {
  normalization?: Normalization;
  /** Bytes of HMAC kept, 4 to 32 (default 16). */
  bytes?: number;
}

export interface RecordSpec {
  /** Kind of record, e.g. `patients`; the first part of each field path. */
  name: string;
  fields: { pointer: string; index?: IndexSpec }[];
}

export interface EncryptedRecord<T = Record<string, unknown>> {
  record: T;
  indexes: Record<string, string>;
}

/**
 * The WASM handles behind `RootKey`s. Kept out of the class so the published types do
 * not name the wasm-bindgen glue (whose declarations need `lib: esnext`), and so a value
 * that is not a `RootKey` is refused with a clear error.
 */
const rootKeys = new WeakMap<RootKey, { inner: glue.RootKey; epoch: number }>();

function rootKeyOf(value: unknown): glue.RootKey {
  const held = typeof value === 'object' && value !== null ? rootKeys.get(value as RootKey) : undefined;
  if (held === undefined) {
    throw new PhylaxError('request.malformed', '`rootKey` must be a RootKey', 'pass a key made with `RootKey.parse(...)`');
  }
  alive(held.epoch);
  return held.inner;
}

/** `readable` as an array: any iterable of pointers, but not a string (which would iterate its characters). */
function pointers(value: unknown): unknown[] {
  if (typeof value === 'object' && value !== null && typeof (value as Iterable<unknown>)[Symbol.iterator] === 'function') {
    return [...(value as Iterable<unknown>)];
  }
  throw new PhylaxError('request.malformed', `\`readable\` must be an array of JSON pointers, not ${value === null ? 'null' : typeof value === 'string' ? 'a string' : typeof value}`, 'pass the `readable` answer of `engine.readableFields`, e.g. `["/name"]`');
}

/** The operator's root key, held in WASM memory. */
export class RootKey {
  private constructor(inner: glue.RootKey) {
    rootKeys.set(this, { inner, epoch: currentEpoch() });
  }

  /** 64 hex digits or 43 base64url characters. */
  static parse(text: string): RootKey {
    need();
    return new RootKey(call(() => glue.RootKey.parse(str('rootKey', text))));
  }

  /** A fixed, publicly known key: demos and tests only. */
  static insecureDevKey(): RootKey {
    need();
    return new RootKey(call(() => glue.RootKey.insecureDevKey()));
  }

  /** Wipes the key from WASM memory; the key cannot be used afterwards. */
  free(): void {
    const held = rootKeys.get(this);
    rootKeys.delete(this);
    if (held !== undefined && held.epoch === currentEpoch()) call(() => held.inner.free());
  }
}

/** A tenant's keys, opened with the root key. */
export class Keyring {
  readonly #inner: glue.Keyring;
  readonly #epoch = currentEpoch();
  /** The WebCrypto path of `encryptBytesAsync` / `decryptBytesAsync`, with its imported subkeys. */
  readonly #platform = new PlatformAead({
    nonce: () => this.#use(() => glue.Keyring.__fieldNonce()),
    sealing: (field, recordId, version) => this.#use((inner) => inner.__fieldSealing(field, recordId, version)),
    subkey: (field, version) => this.#use((inner) => inner.__fieldSubkey(field, version)),
    encryptBytes: (field, recordId, plaintext) => this.#use((inner) => inner.encryptBytes(field, recordId, plaintext)),
    decryptBytes: (field, recordId, ciphertext) => this.#use((inner) => inner.decryptBytes(field, recordId, ciphertext)),
  });

  static {
    Object.defineProperty(Keyring, TEST_HOOK, { value: testHook((keyring) => (keyring as Keyring).#platform) });
  }

  private constructor(inner: glue.Keyring) {
    this.#inner = inner;
  }

  /** Runs `fn` on the WASM keyring, if it still belongs to the current instance. */
  #use<T>(fn: (inner: glue.Keyring) => T): T {
    return call(() => {
      alive(this.#epoch);
      return fn(this.#inner);
    });
  }

  /** A new keyring with data and index keys at version 1. */
  static create(tenant: string, rootKey: RootKey, now: number = nowSeconds()): Keyring {
    need();
    return new Keyring(call(() => glue.Keyring.create(str('tenant', tenant), rootKeyOf(rootKey), uint('now', now))));
  }

  /** Opens a stored state (object or JSON text). */
  static open(state: KeyringState | string, rootKey: RootKey): Keyring {
    need();
    // Whatever is given is judged by the core as a keyring state (`crypto.invalid_keyring`),
    // as the wasm component and the HTTP API judge it; only a missing state is malformed.
    return new Keyring(call(() => {
      const json = typeof state === 'string' ? str('state', state) : toJson('state', state === undefined ? obj('state', state) : state);
      return glue.Keyring.open(json, rootKeyOf(rootKey));
    }));
  }

  /** The storable state (wrapped keys only). */
  state(): KeyringState {
    return this.#use((inner) => JSON.parse(inner.state()));
  }

  get tenant(): string {
    return this.#use((inner) => inner.tenant);
  }

  get activeVersion(): number {
    return this.#use((inner) => inner.activeVersion);
  }

  get activeIndexVersion(): number {
    return this.#use((inner) => inner.activeIndexVersion);
  }

  get isDestroyed(): boolean {
    return this.#use((inner) => inner.isDestroyed);
  }

  /** New active data-key version; older ones still decrypt. */
  rotate(rootKey: RootKey, now: number = nowSeconds()): number {
    this.#platform.forget();
    return this.#use((inner) => inner.rotate(rootKeyOf(rootKey), uint('now', now)));
  }

  /** New active blind-index key version. */
  rotateIndexKey(rootKey: RootKey, now: number = nowSeconds()): number {
    return this.#use((inner) => inner.rotateIndexKey(rootKeyOf(rootKey), uint('now', now)));
  }

  /** Drops an old data-key version once nothing uses it. */
  retire(version: number): void {
    this.#platform.forget();
    this.#use((inner) => inner.retire(uint('version', version)));
  }

  /** Crypto-shreds the tenant: every ciphertext then fails with `crypto.key_destroyed`. */
  destroy(now: number = nowSeconds()): void {
    this.#platform.forget();
    this.#use((inner) => inner.destroy(uint('now', now)));
  }

  /** Encrypts text to a `phx1.` string bound to tenant, field and record. */
  encryptField(field: string, recordId: string, plaintext: string): string {
    return this.#use((inner) => inner.encryptField(str('field', field), str('recordId', recordId), str('plaintext', plaintext)));
  }

  decryptField(field: string, recordId: string, ciphertext: string): string {
    return this.#use((inner) => inner.decryptField(str('field', field), str('recordId', recordId), str('ciphertext', ciphertext)));
  }

  /** Binary form: bytes in, `header | nonce | ciphertext | tag` out. */
  encryptBytes(field: string, recordId: string, plaintext: Uint8Array): Uint8Array {
    return this.#use((inner) => inner.encryptBytes(str('field', field), str('recordId', recordId), bytes('plaintext', plaintext)));
  }

  decryptBytes(field: string, recordId: string, ciphertext: Uint8Array): Uint8Array {
    return this.#use((inner) => inner.decryptBytes(str('field', field), str('recordId', recordId), bytes('ciphertext', ciphertext)));
  }

  /**
   * `encryptBytes` for large values, at the platform's speed: from 16 KiB, where the
   * runtime has WebCrypto (`crypto.subtle`), AES-256-GCM runs there (a 1 MiB value in
   * ~1 ms instead of ~15 ms); smaller values, or without WebCrypto, take `encryptBytes`.
   * The ciphertext is the same either way and opens with either method. Don't change
   * the bytes until the promise settles.
   */
  async encryptBytesAsync(field: string, recordId: string, plaintext: Uint8Array | ArrayBuffer | Blob): Promise<Uint8Array> {
    return this.#platform.encrypt(str('field', field), str('recordId', recordId), plaintext);
  }

  /** `decryptBytes` for large values, at the platform's speed (see `encryptBytesAsync`). */
  async decryptBytesAsync(field: string, recordId: string, ciphertext: Uint8Array | ArrayBuffer | Blob): Promise<Uint8Array> {
    return this.#platform.decrypt(str('field', field), str('recordId', recordId), ciphertext);
  }

  /** Whether a ciphertext is under an older key version (reads the header only). */
  needsRewrap(ciphertext: string): boolean {
    return this.#use((inner) => inner.needsRewrap(str('ciphertext', ciphertext)));
  }

  /** Re-encrypts under the active version; the plaintext never leaves WASM. */
  rewrap(field: string, recordId: string, ciphertext: string): string {
    return this.#use((inner) => inner.rewrap(str('field', field), str('recordId', recordId), str('ciphertext', ciphertext)));
  }

  /** Blind index of `value` under the active index key: `"<version>.<base64url>"`. */
  blindIndex(field: string, value: string, index: IndexSpec = {}): string {
    return this.#call('blindIndex', { field: str('field', field), value: str('value', value), index: obj('index', index) }).indexes[0];
  }

  /** Blind indexes under every index-key version held, newest first (search during rotation). */
  blindIndexAllVersions(field: string, value: string, index: IndexSpec = {}): string[] {
    return this.#call('blindIndex', { field: str('field', field), value: str('value', value), index: obj('index', index), allVersions: true }).indexes;
  }

  /** Encrypts the spec's fields of a record and computes its blind indexes, in one call. */
  encryptRecord<T extends object>(spec: RecordSpec, recordId: string, record: T): EncryptedRecord {
    return this.#call('encryptRecord', { spec: obj('spec', spec), recordId: str('recordId', recordId), record: obj('record', record) });
  }

  /**
   * Decrypts the spec's fields; with `readable` (JSON pointers) the other listed fields
   * are dropped. `readable: null` is refused (`request.malformed`), not read as "every
   * field": a policy lookup that gave nothing must not decrypt the whole record.
   */
  decryptRecord<T = Record<string, unknown>>(spec: RecordSpec, recordId: string, record: object, options: { readable?: Iterable<string> } = {}): T {
    known('options', options, ['readable']);
    const readable = options.readable === undefined ? undefined : pointers(options.readable);
    return this.#call('decryptRecord', { spec: obj('spec', spec), recordId: str('recordId', recordId), record: obj('record', record), readable }).record;
  }

  /** A JSON call: request object in as JSON text, answer parsed back. */
  #call(method: 'blindIndex' | 'encryptRecord' | 'decryptRecord', request: object): any {
    return this.#use((inner) => JSON.parse(inner[method](toJson('request', request))));
  }

  /** Frees the WASM memory (wiping the keys) now rather than at garbage collection. */
  free(): void {
    this.#platform.forget();
    this.#use((inner) => inner.free());
  }
}

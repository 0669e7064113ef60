// Checks of `keyring.encryptBytesAsync` / `decryptBytesAsync` (src/platform-aead.ts), the
// WebCrypto path for large values. Runtime-independent like conformance.mjs, which lists
// these among its checks, so they run in Node, the edge runtime, workerd and Chromium.
// The test-only hook `Keyring[Symbol.for('phylax.test.platformAead')]` moves the size from
// which values take WebCrypto (0 forces it) and describes a keyring's cached subkeys;
// fixed nonces go into the core's pool as the conformance runner puts them there.
//
//   import { platformChecks } from './platform-aead.mjs';
//   for (const [name, fn] of platformChecks(phylax)) await fn();
import { primeNonces } from './cases-core.mjs';

const ROOT_HEX = '0f'.repeat(32);
const T0 = 1_700_000_000;
const NONCE = [6, 18];
const FIELD = 'patients.scan';

class CheckFailed extends Error {}
CheckFailed.prototype.name = 'CheckFailed';

function fail(message) {
  throw new CheckFailed(message);
}

function ok(condition, what) {
  if (!condition) fail(what);
}

function sameBytes(a, b, what) {
  ok(a instanceof Uint8Array, `${what}: not a Uint8Array`);
  ok(a.length === b.length, `${what}: ${a.length} bytes, expected ${b.length}`);
  for (let i = 0; i < a.length; i += 1) if (a[i] !== b[i]) fail(`${what}: differs at byte ${i} of ${a.length}`);
}

function pattern(size, seed = 1) {
  const out = new Uint8Array(size);
  let x = seed;
  for (let i = 0; i < size; i += 1) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** The error `fn` throws or rejects with (it must be a PhylaxError), as `{code, message, hint}`. */
async function errorOf(P, fn, what) {
  try {
    await fn();
  } catch (err) {
    if (!(err instanceof P.PhylaxError)) fail(`${what}: expected a PhylaxError, got ${err && err.name}: ${err && err.message}`);
    ok(err.message.length > 0 && typeof err.hint === 'string', `${what}: message and hint`);
    return { code: err.code, message: err.message, hint: err.hint };
  }
  return fail(`${what}: expected an error, got a result`);
}

async function rejectsCode(P, code, fn, what) {
  const err = await errorOf(P, fn, what);
  if (err.code !== code) fail(`${what}: expected ${code}, got ${err.code} (${err.message})`);
}

/** The sync method's error and the async one's must be the same (code, message, hint). */
async function sameError(P, sync, async, what) {
  const a = await errorOf(P, sync, `${what} (sync)`);
  const b = await errorOf(P, async, `${what} (async)`);
  if (JSON.stringify(a) !== JSON.stringify(b)) fail(`${what}: sync ${JSON.stringify(a)}, async ${JSON.stringify(b)}`);
  return a.code;
}

const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

/** The nonce of a binary ciphertext, as hex. */
const nonceOf = (ciphertext) => hex(ciphertext.subarray(...NONCE));

/** Runs `fn` with the WebCrypto path from `minBytes` (0: always), then restores the default. */
async function withMinBytes(hook, minBytes, fn) {
  const before = hook.minBytes;
  hook.minBytes = minBytes;
  try {
    return await fn();
  } finally {
    hook.minBytes = before;
  }
}

/** The checks as `[name, async fn]` pairs. */
export function platformChecks(phylax) {
  const P = phylax;
  const list = [];
  const check = (name, fn) => list.push([name, fn]);
  const hookOf = () => P.Keyring[Symbol.for('phylax.test.platformAead')] ?? fail('the package has no platformAead test hook');
  const keyring = (tenant = 'acme') => P.Keyring.create(tenant, P.RootKey.parse(ROOT_HEX), T0);

  check('keyring async: the runtime has WebCrypto and the threshold is 16 KiB', async () => {
    ok(typeof globalThis.crypto?.subtle?.encrypt === 'function', 'crypto.subtle is there');
    ok(hookOf().minBytes === 16 * 1024 && hookOf().defaultMinBytes === 16 * 1024, `threshold ${hookOf().minBytes}`);
  });

  check('keyring async: byte for byte encryptBytes under the same nonce, at 0, 1, threshold - 1, threshold, 1 MiB', async () => {
    const hook = hookOf();
    const root = P.RootKey.parse(ROOT_HEX);
    const k = keyring();
    const scratch = keyring('scratch');
    const t = hook.defaultMinBytes;
    for (const size of [0, 1, t - 1, t, 1 << 20]) {
      const plain = pattern(size, size);
      const sync = k.encryptBytes(FIELD, 'rec-1', plain);
      // WebCrypto forced, the same nonce put in the core's pool: the same bytes; opened by both paths.
      const forced = await withMinBytes(hook, 0, () => {
        primeNonces(scratch, [nonceOf(sync)]);
        return k.encryptBytesAsync(FIELD, 'rec-1', plain);
      });
      sameBytes(forced, sync, `${size} B through WebCrypto`);
      sameBytes(await withMinBytes(hook, 0, () => k.decryptBytesAsync(FIELD, 'rec-1', sync)), plain, `${size} B opened through WebCrypto`);
      // The default threshold, on a twin keyring (its own cache): WebCrypto from it, the core below it.
      const twin = P.Keyring.open(k.state(), root);
      primeNonces(scratch, [nonceOf(sync)]);
      const routed = await twin.encryptBytesAsync(FIELD, 'rec-1', plain);
      const imported = (await hook.cachedKeys(twin)).length;
      ok(imported === (size >= t ? 1 : 0), `${size} B took the ${imported ? 'WebCrypto' : 'core\'s'} path`);
      sameBytes(routed, sync, `${size} B at the default threshold`);
      sameBytes(k.decryptBytes(FIELD, 'rec-1', routed), plain, `${size} B async -> sync`);
      sameBytes(await twin.decryptBytesAsync(FIELD, 'rec-1', routed), plain, `${size} B async -> async`);
      twin.free();
    }
  });

  check('keyring async: the nonce comes from the core\'s pool, drawn before the checks as encryptBytes draws it', async () => {
    const hook = hookOf();
    const scratch = keyring('scratch');
    const live = keyring();
    const destroyed = keyring();
    destroyed.destroy(T0 + 1);
    const nonces = ['0102030405060708090a0b0c', '1112131415161718191a1b1c', '2122232425262728292a2b2c', '3132333435363738393a3b3c'];
    primeNonces(scratch, nonces);
    await withMinBytes(hook, 0, async () => {
      await rejectsCode(P, 'crypto.key_destroyed', () => destroyed.encryptBytes(FIELD, 'r', pattern(10)), 'sync, destroyed');
      await rejectsCode(P, 'crypto.key_destroyed', () => destroyed.encryptBytesAsync(FIELD, 'r', pattern(10)), 'async, destroyed');
      const a = await live.encryptBytesAsync(FIELD, 'r', pattern(10));
      const b = live.encryptBytes(FIELD, 'r', pattern(10));
      ok(nonceOf(a) === nonces[2] && nonceOf(b) === nonces[3], `drawn in turn: ${nonceOf(a)}, ${nonceOf(b)}`);
    });
  });

  check('keyring async: 16 MiB byte for byte, and faster than the core', async () => {
    const k = keyring();
    const plain = pattern(16 << 20, 7);
    let t0 = performance.now();
    const sync = k.encryptBytes(FIELD, 'rec-16', plain);
    sameBytes(k.decryptBytes(FIELD, 'rec-16', sync), plain, 'sync round trip');
    const syncMs = performance.now() - t0;
    primeNonces(keyring('scratch'), [nonceOf(sync)]);
    t0 = performance.now();
    const result = await k.encryptBytesAsync(FIELD, 'rec-16', plain);
    const opened = await k.decryptBytesAsync(FIELD, 'rec-16', result);
    const asyncMs = performance.now() - t0;
    sameBytes(result, sync, '16 MiB');
    sameBytes(opened, plain, '16 MiB opened');
    ok(asyncMs < syncMs && asyncMs < 10_000, `16 MiB both ways: ${asyncMs.toFixed(0)} ms async against ${syncMs.toFixed(0)} ms sync`);
  });

  check('keyring async: random nonces; sync and async open each other\'s ciphertexts', async () => {
    const k = keyring();
    for (const size of [20_000, 300_000]) {
      const plain = pattern(size, 3);
      const a = await k.encryptBytesAsync(FIELD, 'rec-2', plain);
      const b = await k.encryptBytesAsync(FIELD, 'rec-2', plain);
      ok(a.length === size + 34, `${size} B: overhead ${a.length - size}`);
      ok(nonceOf(a) !== nonceOf(b), `${size} B: two encryptions have two nonces`);
      sameBytes(k.decryptBytes(FIELD, 'rec-2', a), plain, `${size} B async -> sync`);
      sameBytes(await k.decryptBytesAsync(FIELD, 'rec-2', k.encryptBytes(FIELD, 'rec-2', plain)), plain, `${size} B sync -> async`);
    }
  });

  check('keyring async: Uint8Array, ArrayBuffer and Blob in; anything else is request.malformed', async () => {
    const k = keyring();
    const plain = pattern(40_000, 5);
    const fromBlob = await k.encryptBytesAsync(FIELD, 'r', new Blob([plain.subarray(0, 1000), plain.subarray(1000)]));
    sameBytes(k.decryptBytes(FIELD, 'r', fromBlob), plain, 'Blob in');
    sameBytes(await k.decryptBytesAsync(FIELD, 'r', new Blob([fromBlob])), plain, 'Blob ciphertext');
    const fromBuffer = await k.encryptBytesAsync(FIELD, 'r', plain.slice().buffer);
    sameBytes(await k.decryptBytesAsync(FIELD, 'r', fromBuffer.slice().buffer), plain, 'ArrayBuffer both ways');
    const view = new Uint8Array(plain.length + 10);
    view.set(plain, 5);
    sameBytes(await k.decryptBytesAsync(FIELD, 'r', await k.encryptBytesAsync(FIELD, 'r', view.subarray(5, 5 + plain.length))), plain, 'a view at an offset');
    sameBytes(await k.decryptBytesAsync(FIELD, 'r', await k.encryptBytesAsync(FIELD, 'r', new Blob(['small text']))), new TextEncoder().encode('small text'), 'a small Blob (the core\'s path)');
    for (const [what, value] of [['a string', 'text'], ['a number', 42], ['null', null], ['undefined', undefined], ['an array', [1, 2]], ['a DataView', new DataView(new ArrayBuffer(4))]]) {
      await rejectsCode(P, 'request.malformed', () => k.encryptBytesAsync(FIELD, 'r', value), `plaintext ${what}`);
      await rejectsCode(P, 'request.malformed', () => k.decryptBytesAsync(FIELD, 'r', value), `ciphertext ${what}`);
    }
    await rejectsCode(P, 'request.malformed', () => k.encryptBytesAsync(7, 'r', plain), 'field a number');
    await rejectsCode(P, 'request.malformed', () => k.decryptBytesAsync(FIELD, null, fromBlob), 'record id null');
    await rejectsCode(P, 'request.malformed', () => k.encryptBytesAsync('f\uD800', 'r', plain), 'a lone surrogate in the field');
    // An async method rejects; it does not throw at the call.
    const pending = k.encryptBytesAsync(FIELD, 'r', 'not bytes');
    ok(typeof pending.then === 'function', 'a promise even for bad input');
    await pending.catch(() => {});
  });

  check('keyring async: a value whose ciphertext passes 2^31 - 1 bytes is refused up front', async () => {
    const k = keyring();
    // A Blob that says it is larger than it is: refused on its size, before it is read.
    class Huge extends Blob {
      constructor(size) { super([]); this.claimed = size; }
      get size() { return this.claimed; }
    }
    await rejectsCode(P, 'crypto.invalid_spec', () => k.encryptBytesAsync(FIELD, 'r', new Huge(2 ** 31 - 34)), 'plaintext 2^31 - 34 bytes');
    await rejectsCode(P, 'crypto.invalid_spec', () => k.decryptBytesAsync(FIELD, 'r', new Huge(2 ** 31)), 'ciphertext 2^31 bytes');
  });

  check('keyring async: tampering, malformed envelopes and unknown versions fail as decryptBytes fails', async () => {
    const hook = hookOf();
    const k = keyring();
    k.rotate(P.RootKey.parse(ROOT_HEX), T0 + 1);
    const plain = pattern(50_000, 9);
    const ct = await k.encryptBytesAsync(FIELD, 'rec-3', plain);
    const changed = (at, xor = 1) => { const c = ct.slice(); c[at] ^= xor; return c; };
    const withVersion = (v) => { const c = ct.slice(); new DataView(c.buffer).setUint32(2, v); return c; };
    const cases = [
      ['a byte of the body', changed(5000), 'crypto.decrypt_failed'],
      ['the last byte of the tag', changed(ct.length - 1), 'crypto.decrypt_failed'],
      ['a byte of the nonce', changed(10), 'crypto.decrypt_failed'],
      ['the header naming the other held version', withVersion(1), 'crypto.decrypt_failed'],
      ['a byte appended', new Uint8Array([...ct.subarray(0, 40), ...ct.subarray(40), 0]), 'crypto.decrypt_failed'],
      ['the format byte', changed(0, 3), 'crypto.malformed_ciphertext'],
      ['the algorithm byte', changed(1, 3), 'crypto.malformed_ciphertext'],
      ['key version 0', withVersion(0), 'crypto.unknown_key_version'],
      ['a version not held', withVersion(9), 'crypto.unknown_key_version'],
      ['a version with the high byte set', withVersion(0x01000002), 'crypto.unknown_key_version'],
      ['cut to 34 bytes', ct.slice(0, 34), 'crypto.decrypt_failed'],
      ['cut to 33 bytes', ct.slice(0, 33), 'crypto.malformed_ciphertext'],
      ['cut to 5 bytes', ct.slice(0, 5), 'crypto.malformed_ciphertext'],
      ['empty', new Uint8Array(0), 'crypto.malformed_ciphertext'],
    ];
    for (const minBytes of [0, hook.defaultMinBytes]) {
      await withMinBytes(hook, minBytes, async () => {
        for (const [what, bad, code] of cases) {
          const got = await sameError(P, () => k.decryptBytes(FIELD, 'rec-3', bad), () => k.decryptBytesAsync(FIELD, 'rec-3', bad), `${what} (from ${minBytes} B)`);
          ok(got === code, `${what}: ${got}, expected ${code}`);
        }
      });
    }
    sameBytes(await k.decryptBytesAsync(FIELD, 'rec-3', ct), plain, 'the untouched ciphertext still opens');
  });

  check('keyring async: another field, record or tenant, bad names: the sync errors', async () => {
    const hook = hookOf();
    const acme = keyring('acme');
    const globex = keyring('globex');
    const plain = pattern(30_000, 11);
    const ct = await acme.encryptBytesAsync(FIELD, 'rec-4', plain);
    for (const minBytes of [0, hook.defaultMinBytes]) {
      await withMinBytes(hook, minBytes, async () => {
        for (const [what, k, field, record, code] of [
          ['another record', acme, FIELD, 'rec-5', 'crypto.decrypt_failed'],
          ['another field', acme, 'patients.photo', 'rec-4', 'crypto.decrypt_failed'],
          ['record id emptied', acme, FIELD, '', 'crypto.decrypt_failed'],
          ['another tenant', globex, FIELD, 'rec-4', 'crypto.decrypt_failed'],
          ['an empty field path', acme, '', 'rec-4', 'crypto.invalid_name'],
          ['a field path over 1024 bytes', acme, 'f'.repeat(1025), 'rec-4', 'crypto.invalid_name'],
          ['a record id over 1024 bytes', acme, FIELD, 'r'.repeat(1025), 'crypto.invalid_name'],
        ]) {
          const got = await sameError(P, () => k.decryptBytes(field, record, ct), () => k.decryptBytesAsync(field, record, ct), `${what} (from ${minBytes} B)`);
          ok(got === code, `${what}: ${got}, expected ${code}`);
        }
        for (const [what, field, record] of [['an empty field path', '', 'r'], ['a record id over 1024 bytes', FIELD, 'r'.repeat(1025)]]) {
          const got = await sameError(P, () => acme.encryptBytes(field, record, plain), () => acme.encryptBytesAsync(field, record, plain), `encrypt, ${what}`);
          ok(got === 'crypto.invalid_name', `encrypt, ${what}: ${got}`);
        }
      });
    }
  });

  check('keyring async: subkeys are cached non-extractable, per version and field, and dropped by rotate, retire, destroy and free', async () => {
    const hook = hookOf();
    const root = P.RootKey.parse(ROOT_HEX);
    const k = keyring();
    const plain = pattern(20_000, 13);
    const v1 = await k.encryptBytesAsync(FIELD, 'r', plain);
    await k.encryptBytesAsync(FIELD, 'r2', plain);
    await k.encryptBytesAsync('patients.photo', 'r', plain);
    const keys = await hook.cachedKeys(k);
    ok(JSON.stringify(keys.map((d) => d.id).sort()) === JSON.stringify(['1:patients.photo', '1:patients.scan']), `cached ${JSON.stringify(keys)}`);
    for (const d of keys) {
      ok(d.extractable === false && d.type === 'secret' && d.algorithm === 'AES-GCM', `cached key ${JSON.stringify(d)}`);
      ok(JSON.stringify([...d.usages].sort()) === '["decrypt","encrypt"]', `usages ${d.usages}`);
    }
    ok((await hook.cachedKeys(keyring())).length === 0, 'another keyring has its own cache');
    k.rotate(root, T0 + 1);
    ok((await hook.cachedKeys(k)).length === 0, 'rotate empties the cache');
    const v2 = await k.encryptBytesAsync(FIELD, 'r', plain);
    ok(new DataView(v2.buffer).getUint32(2) === 2, 'sealed under the new version');
    sameBytes(await k.decryptBytesAsync(FIELD, 'r', v1), plain, 'version 1 still opens');
    ok(JSON.stringify((await hook.cachedKeys(k)).map((d) => d.id).sort()) === '["1:patients.scan","2:patients.scan"]', 'a key per version');
    k.retire(1);
    ok((await hook.cachedKeys(k)).length === 0, 'retire empties the cache');
    await rejectsCode(P, 'crypto.unknown_key_version', () => k.decryptBytesAsync(FIELD, 'r', v1), 'a retired version');
    sameBytes(await k.decryptBytesAsync(FIELD, 'r', v2), plain, 'version 2 opens');
    k.free();
    ok((await hook.cachedKeys(k)).length === 0, 'free empties the cache');
    await errorOf(P, () => k.decryptBytesAsync(FIELD, 'r', v2), 'a freed keyring');
    // Bounded: at most 1024 subkeys, the cache emptied when full.
    const many = keyring();
    await withMinBytes(hook, 0, async () => {
      for (let i = 0; i < 1030; i += 1) await many.encryptBytesAsync(`f${i}`, 'r', plain.subarray(0, 1));
    });
    const held = (await hook.cachedKeys(many)).length;
    ok(held > 0 && held <= 1024, `${held} subkeys held after 1030 fields`);
  });

  check('keyring async: a destroyed keyring is crypto.key_destroyed, also for a call already under way with its key', async () => {
    const hook = hookOf();
    const k = keyring();
    const plain = pattern(64_000, 17);
    const ct = await k.encryptBytesAsync(FIELD, 'r', plain);
    sameBytes(await k.decryptBytesAsync(FIELD, 'r', ct), plain, 'opens before');
    ok((await hook.cachedKeys(k)).length === 1, 'the key is cached');
    // Under way: with the key cached, both calls are at WebCrypto when they return; the
    // keyring is destroyed before WebCrypto answers, and neither hands out its result.
    const opening = k.decryptBytesAsync(FIELD, 'r', ct);
    const sealing = k.encryptBytesAsync(FIELD, 'r', plain);
    k.destroy(T0 + 9);
    await rejectsCode(P, 'crypto.key_destroyed', () => opening, 'decrypt under way');
    await rejectsCode(P, 'crypto.key_destroyed', () => sealing, 'encrypt under way');
    await rejectsCode(P, 'crypto.key_destroyed', () => k.decryptBytesAsync(FIELD, 'r', ct), 'decrypt after destroy');
    await rejectsCode(P, 'crypto.key_destroyed', () => k.encryptBytesAsync(FIELD, 'r', plain), 'encrypt after destroy');
    await rejectsCode(P, 'crypto.key_destroyed', () => k.decryptBytesAsync(FIELD, 'r', ct.slice(0, 10)), 'a malformed value after destroy');
    await rejectsCode(P, 'crypto.key_destroyed', () => withMinBytes(hook, 0, () => k.decryptBytesAsync(FIELD, 'r', ct.slice(0, 40))), 'a short value after destroy, WebCrypto forced');
  });

  check('keyring async: without crypto.subtle the core\'s path answers', async () => {
    const hook = hookOf();
    const crypto = globalThis.crypto;
    const k = keyring();
    const plain = pattern(40_000, 19);
    const own = Object.getOwnPropertyDescriptor(crypto, 'subtle');
    try {
      Object.defineProperty(crypto, 'subtle', { configurable: true, value: undefined });
    } catch {
      return; // a runtime whose crypto object cannot be changed: nothing to simulate
    }
    let ct;
    try {
      ok(crypto.subtle === undefined, 'crypto.subtle hidden');
      ct = await k.encryptBytesAsync(FIELD, 'r', plain);
      sameBytes(await k.decryptBytesAsync(FIELD, 'r', ct), plain, 'opened without WebCrypto');
      ok((await hook.cachedKeys(k)).length === 0, 'no subkey left WASM');
    } finally {
      if (own) Object.defineProperty(crypto, 'subtle', own);
      else delete crypto.subtle;
    }
    ok(typeof crypto.subtle?.encrypt === 'function', 'crypto.subtle restored');
    sameBytes(await k.decryptBytesAsync(FIELD, 'r', ct), plain, 'and with WebCrypto');
  });

  return list;
}

// Large field values: `keyring.encryptBytesAsync` / `decryptBytesAsync` (their WebCrypto
// path) against bare WebCrypto AES-256-GCM on the same data, with the same key size and an
// associated data of the same length, in whatever runtime imports this module: bench/run.mjs
// runs it in Node and, through playwright-core, in Debian's Chromium. No Node APIs here.
//
//   const result = await measureLarge(phylax, { rounds: 5, warmMs: 200, roundMs: 1000 });

export const SIZES = [1 << 20, 16 << 20];
const FIELD = 'patients.scan';
const RECORD = 'rec-1';

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/**
 * Each contender (name -> async fn) in `plan.rounds` interleaved rounds of `plan.roundMs`
 * after a warm-up, calls awaited one after the other (the latency of one value, as an
 * application sees it). Returns name -> { ns (median per call), min, max, rounds }.
 */
async function compare(contenders, plan) {
  const rounds = Object.fromEntries(Object.keys(contenders).map((name) => [name, []]));
  for (const fn of Object.values(contenders)) {
    const t0 = performance.now();
    while (performance.now() - t0 < plan.warmMs) await fn();
  }
  for (let r = 0; r < plan.rounds; r++) {
    for (const [name, fn] of Object.entries(contenders)) {
      let n = 0;
      const t0 = performance.now();
      let t = t0;
      while (t - t0 < plan.roundMs || n < 3) {
        await fn();
        n += 1;
        t = performance.now();
      }
      rounds[name].push(((t - t0) * 1e6) / n);
    }
  }
  return Object.fromEntries(Object.entries(rounds).map(([name, rs]) => [name, { ns: median(rs), min: Math.min(...rs), max: Math.max(...rs), rounds: rs }]));
}

function randomBytes(size) {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(out.subarray(i, i + 65536));
  return out;
}

function same(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Encrypt and decrypt at each size: `{ sizes, encrypt: {size: {phylax, webcrypto}}, decrypt: {...} }`. */
export async function measureLarge(phylax, plan) {
  const { subtle } = globalThis.crypto;
  const keyring = phylax.Keyring.create('acme', phylax.RootKey.insecureDevKey(), 1_700_000_000);
  const key = await subtle.importKey('raw', randomBytes(32), 'AES-GCM', false, ['encrypt', 'decrypt']);
  // The field's associated data is 46 bytes here (label, three framed names, header).
  const aad = randomBytes(46);
  const gcm = (iv) => ({ name: 'AES-GCM', iv, additionalData: aad, tagLength: 128 });
  const encrypt = {};
  const decrypt = {};
  try {
    for (const size of SIZES) {
      const data = randomBytes(size);
      const sealed = await keyring.encryptBytesAsync(FIELD, RECORD, data);
      const iv = randomBytes(12);
      const bare = await subtle.encrypt(gcm(iv), key, data);
      // Same work on both sides: each must give the value back.
      if (!same(await keyring.decryptBytesAsync(FIELD, RECORD, sealed), data) || !same(new Uint8Array(await subtle.decrypt(gcm(iv), key, bare)), data)) {
        throw new Error(`${size} B: a round trip failed`);
      }
      encrypt[size] = await compare({
        phylax: () => keyring.encryptBytesAsync(FIELD, RECORD, data),
        webcrypto: () => subtle.encrypt(gcm(crypto.getRandomValues(new Uint8Array(12))), key, data),
      }, plan);
      decrypt[size] = await compare({
        phylax: () => keyring.decryptBytesAsync(FIELD, RECORD, sealed),
        webcrypto: () => subtle.decrypt(gcm(iv), key, bare),
      }, plan);
    }
  } finally {
    keyring.free();
  }
  return { sizes: SIZES, encrypt, decrypt };
}

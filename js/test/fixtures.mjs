// Node-side test data for the conformance module: the healthcare pack table, the pack
// sources, and JWTs signed here with node:crypto (RS256, ES256, EdDSA) plus their JWKS.
// Everything is plain JSON so it can be handed to the edge runtime, workerd and Chromium.
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const js = dirname(dirname(fileURLToPath(import.meta.url)));
export const root = dirname(js);

const ISS = 'https://phylax-test.eu.auth0.com/';
const AUD = 'https://api.phylax.dev';
const NOW = 1_700_000_000;

const b64 = (value) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** Signs `claims` as a compact JWT with node:crypto. */
export function signJwt(alg, kid, claims, key) {
  const input = `${b64({ alg, typ: 'JWT', kid })}.${b64(claims)}`;
  let signature;
  if (alg === 'RS256') signature = sign('sha256', Buffer.from(input), key);
  else if (alg === 'ES256') signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  else if (alg === 'EdDSA') signature = sign(null, Buffer.from(input), key);
  else throw new Error(`no test key for ${alg}`);
  return `${input}.${signature.toString('base64url')}`;
}

export function jwtKeys() {
  const rsa = createPrivateKey(readFileSync(join(root, 'core', 'tests', 'data', 'jwt', 'rs256-test-key.pem')));
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const ed = generateKeyPairSync('ed25519').privateKey;
  const jwk = (key, kid, extra = {}) => ({ ...createPublicKey(key).export({ format: 'jwk' }), kid, use: 'sig', ...extra });
  const jwks = { keys: [jwk(rsa, 'rsa-1', { alg: 'RS256' }), jwk(ec, 'ec-1'), jwk(ed, 'ed-1')] };
  return { rsa, ec, ed, jwks };
}

export function jwtData() {
  const { rsa, ec, ed, jwks } = jwtKeys();
  const other = generateKeyPairSync('ed25519').privateKey;
  const claims = {
    iss: ISS, sub: 'auth0|user-42', aud: [AUD, `${ISS}userinfo`], iat: NOW - 10, exp: NOW + 3600,
    'https://phylax.dev/tenant': 'acme', 'https://phylax.dev/roles': ['provider'], amr: ['pwd', 'mfa'],
  };
  const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
  return {
    now: NOW,
    config: { issuer: ISS, audiences: [AUD] },
    jwks,
    tokens: {
      rs256: signJwt('RS256', 'rsa-1', claims, rsa),
      es256: signJwt('ES256', 'ec-1', claims, ec),
      eddsa: signJwt('EdDSA', 'ed-1', claims, ed),
      wrongIssuer: signJwt('EdDSA', 'ed-1', { ...claims, iss: 'https://evil.example/' }, ed),
      wrongAudience: signJwt('EdDSA', 'ed-1', { ...claims, aud: 'https://other.example' }, ed),
      expired: signJwt('EdDSA', 'ed-1', { ...claims, exp: NOW - 3600 }, ed),
      otherKey: signJwt('EdDSA', 'ed-1', claims, other),
      unknownKid: signJwt('EdDSA', 'ed-9', claims, ed),
      algNone: none,
    },
  };
}

/** The healthcare pack sources, as a bundle would carry them. */
export function packSources() {
  const pack = join(root, 'core', 'pack');
  return {
    schema: readFileSync(join(pack, 'healthcare.cedarschema'), 'utf8'),
    policies: readFileSync(join(pack, 'healthcare.cedar'), 'utf8'),
    entities: JSON.parse(readFileSync(join(pack, 'healthcare.entities.json'), 'utf8')),
  };
}

export function packCases() {
  return JSON.parse(readFileSync(join(root, 'core', 'tests', 'pack_cases.json'), 'utf8'));
}

/** All the conformance module needs, as plain JSON. */
export function conformanceData() {
  return { packCases: packCases(), pack: packSources(), jwt: jwtData() };
}

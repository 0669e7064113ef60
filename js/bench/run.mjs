// Benchmarks of the npm package in one Node process (a script, not a test):
//   node bench/run.mjs            (from js/, after `node scripts/build.mjs`)
// - decisions: engine.authorize vs @cedar-policy/cedar-wasm isAuthorized and the
//   preparsed statefulIsAuthorized, on the healthcare pack cases (same policies, schema,
//   requests and entities; decisions cross-checked);
// - field encryption: keyring.encryptField vs node:crypto and WebCrypto AES-256-GCM,
//   each with a fresh random nonce, at 32 B, 256 B, 4 KiB, 1 MiB;
// - cold start: import + instantiate + load a signed bundle, in a fresh process;
// - gzipped .wasm size beside cedar-wasm's.
// Prints a markdown table of ratios, then the absolute numbers.
import { execFileSync } from 'node:child_process';
import { createCipheriv, randomBytes, webcrypto } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as phylax from '../dist/node.js';
import { packBundle } from '../test/conformance.mjs';
import { js, packCases, packSources } from '../test/fixtures.mjs';

const cedar = await import('@cedar-policy/cedar-wasm/nodejs');
const require = createRequire(import.meta.url);

/** Runs `fn` for about `ms` after a warm-up; returns nanoseconds per call. */
async function measure(fn, { ms = 1500, batch = 1 } = {}) {
  const warm = performance.now() + 200;
  while (performance.now() < warm) await fn();
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < ms) {
    await fn();
    n += batch;
    t = performance.now();
  }
  return ((t - t0) * 1e6) / n;
}

function syncMeasure(fn, { ms = 1500 } = {}) {
  const warm = performance.now() + 200;
  while (performance.now() < warm) fn();
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < ms) {
    for (let i = 0; i < 16; i++) fn();
    n += 16;
    t = performance.now();
  }
  return ((t - t0) * 1e6) / n;
}

const fmt = (ns) => (ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : ns >= 1e3 ? `${(ns / 1e3).toFixed(2)} µs` : `${ns.toFixed(0)} ns`);
const ratio = (x) => `${x.toFixed(2)}×`;

// ------------------------------------------------------------------ decisions
const table = packCases();
const pack = packSources();
const engine = phylax.Engine.healthcare({ entities: table.baseEntities });
const cases = table.cases;
const baseEntities = [...pack.entities, ...table.baseEntities];
const cedarCall = (c) => ({
  principal: c.request.principal, action: c.request.action, resource: c.request.resource,
  context: c.request.context ?? {}, entities: [...baseEntities, ...(c.request.entities ?? [])],
});
const policies = { staticPolicies: pack.policies };
const check = (answer) => {
  if (answer.type !== 'success') throw new Error(`cedar-wasm failed: ${JSON.stringify(answer.errors).slice(0, 300)}`);
  return answer.response.decision;
};
for (const [what, answer] of [['schema', cedar.preparseSchema('pack', pack.schema)], ['policies', cedar.preparsePolicySet('pack', policies)]]) {
  if (answer.type !== 'success') throw new Error(`cedar-wasm preparse ${what}: ${JSON.stringify(answer.errors)}`);
}
// The same answers from all three (a benchmark of different work would mean nothing).
let disagreements = 0;
for (const c of cases) {
  const ours = engine.authorize(c.request).decision;
  const plain = check(cedar.isAuthorized({ ...cedarCall(c), schema: pack.schema, policies }));
  const stateful = check(cedar.statefulIsAuthorized({ ...cedarCall(c), preparsedSchemaName: 'pack', preparsedPolicySetId: 'pack' }));
  if (ours !== plain || ours !== stateful) disagreements += 1;
}
const calls = cases.map(cedarCall);
let i = 0;
const next = () => (i = (i + 1) % cases.length);
const decisionNs = {
  phylax: syncMeasure(() => engine.authorize(cases[next()].request)),
  stateful: syncMeasure(() => cedar.statefulIsAuthorized({ ...calls[next()], preparsedSchemaName: 'pack', preparsedPolicySetId: 'pack' })),
  isAuthorized: syncMeasure(() => cedar.isAuthorized({ ...calls[next()], schema: pack.schema, policies }), { ms: 3000 }),
};

// ------------------------------------------------------------------ field encryption
const keyring = phylax.Keyring.create('acme', phylax.RootKey.insecureDevKey());
const aesKey = randomBytes(32);
const webKey = await webcrypto.subtle.importKey('raw', aesKey, 'AES-GCM', false, ['encrypt']);
const aad = Buffer.from('acme|patients.diagnosis|rec-1');
const sizes = [32, 256, 4096, 1 << 20];
const enc = {};
for (const size of sizes) {
  const text = 'x'.repeat(size);
  const bytes = Buffer.from(text);
  const ms = size >= 1 << 20 ? 2500 : 1500;
  enc[size] = {
    phylax: syncMeasure(() => keyring.encryptField('patients.diagnosis', 'rec-1', text), { ms }),
    node: syncMeasure(() => {
      const cipher = createCipheriv('aes-256-gcm', aesKey, randomBytes(12));
      cipher.setAAD(aad);
      Buffer.concat([cipher.update(bytes), cipher.final(), cipher.getAuthTag()]);
    }, { ms }),
    webcrypto: await measure(() => webcrypto.subtle.encrypt({ name: 'AES-GCM', iv: webcrypto.getRandomValues(new Uint8Array(12)), additionalData: aad }, webKey, bytes), { ms }),
  };
}

// ------------------------------------------------------------------ cold start and size
const signer = phylax.generateSigningKey();
const signed = phylax.signBundle(packBundle(pack), signer.secretKey);
const cold = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', `
  const t0 = performance.now();
  const p = await import('phylax');
  const t1 = performance.now();
  const engine = p.Engine.fromBundle(${JSON.stringify(JSON.stringify(signed))}, { publicKey: ${JSON.stringify(signer.publicKey)} });
  const t2 = performance.now();
  engine.authorize(${JSON.stringify(cases[0].request)});
  const t3 = performance.now();
  console.log(JSON.stringify({ importMs: t1 - t0, bundleMs: t2 - t1, firstDecisionMs: t3 - t2 }));`], { cwd: js, encoding: 'utf8' }));
const ourWasm = readFileSync(join(js, 'dist', 'wasm', 'phylax_bg.wasm'));
const cedarWasm = readFileSync(join(require.resolve('@cedar-policy/cedar-wasm/nodejs').replace(/cedar_wasm\.js$/, ''), 'cedar_wasm_bg.wasm'));
const gz = (b) => gzipSync(b, { level: 9 }).length;
const kb = (n) => `${(n / 1024).toFixed(0)} KiB`;

// ------------------------------------------------------------------ report
const label = { 32: '32 B', 256: '256 B', 4096: '4 KiB', [1 << 20]: '1 MiB' };
const rows = [
  ['decision: phylax vs cedar-wasm `statefulIsAuthorized`', ratio(decisionNs.stateful / decisionNs.phylax), '≥ 3×'],
  ['decision: phylax vs cedar-wasm `isAuthorized`', ratio(decisionNs.isAuthorized / decisionNs.phylax), ''],
  ...sizes.map((s) => [`encryptField ${label[s]}: phylax vs WebCrypto`, ratio(enc[s].webcrypto / enc[s].phylax), s <= 256 ? '≥ 10×' : '']),
  ...sizes.map((s) => [`encryptField ${label[s]}: phylax vs node:crypto`, ratio(enc[s].node / enc[s].phylax), '']),
  ['gzipped .wasm: phylax / cedar-wasm', ratio(gz(ourWasm) / gz(cedarWasm)), '≤ 700 KB phylax'],
];
console.log(`# phylax JS benchmarks\n\nNode ${process.version}, ${process.platform}/${process.arch}, cedar-wasm ${cedar.getCedarSDKVersion?.() ?? ''}; ${cases.length} healthcare pack cases, ${disagreements} disagreements.\n`);
console.log('Ratios (> 1× means phylax is faster / larger):\n');
console.log('| comparison | ratio | target |\n|---|---:|---|');
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
console.log('\nAbsolute numbers (time per call):\n');
console.log('| measurement | phylax | peer |\n|---|---:|---:|');
console.log(`| decision vs statefulIsAuthorized | ${fmt(decisionNs.phylax)} | ${fmt(decisionNs.stateful)} |`);
console.log(`| decision vs isAuthorized | ${fmt(decisionNs.phylax)} | ${fmt(decisionNs.isAuthorized)} |`);
for (const s of sizes) console.log(`| encrypt ${label[s]} vs WebCrypto | ${fmt(enc[s].phylax)} | ${fmt(enc[s].webcrypto)} |`);
for (const s of sizes) console.log(`| encrypt ${label[s]} vs node:crypto | ${fmt(enc[s].phylax)} | ${fmt(enc[s].node)} |`);
console.log(`| .wasm size (raw / gzip -9) | ${kb(ourWasm.length)} / ${kb(gz(ourWasm))} | ${kb(cedarWasm.length)} / ${kb(gz(cedarWasm))} |`);
console.log(`| cold start: import + instantiate | ${cold.importMs.toFixed(1)} ms | |`);
console.log(`| cold start: load signed bundle | ${cold.bundleMs.toFixed(1)} ms | |`);
console.log(`| cold start: first decision | ${cold.firstDecisionMs.toFixed(2)} ms | |`);
if (disagreements > 0) {
  console.error(`\n${disagreements} cases decided differently by phylax and cedar-wasm`);
  process.exitCode = 1;
}

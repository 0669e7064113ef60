// Benchmarks of the npm package in one Node process (a script, not a test):
//   node bench/run.mjs [--quick] [--json FILE]   (from js/, after `node scripts/build.mjs`)
// - decisions: engine.authorize vs @cedar-policy/cedar-wasm isAuthorized and the
//   preparsed statefulIsAuthorized, on the healthcare pack cases (same policies, schema,
//   requests and entities; decisions cross-checked), and engine.authorize again with
//   every request's entities new to the engine (its parsed-entity cache misses);
// - field encryption: keyring.encryptField vs node:crypto and WebCrypto AES-256-GCM,
//   each with a fresh random nonce, at 32 B, 256 B, 4 KiB, 1 MiB;
// - large values: keyring.encryptBytesAsync / decryptBytesAsync (their WebCrypto path)
//   vs bare WebCrypto AES-256-GCM at 1 MiB and 16 MiB, in Node and in headless Chromium
//   (Debian's, through playwright-core; bench/large-payloads.mjs runs in both);
// - cold start: import + instantiate + load a signed bundle, in a fresh process;
// - gzipped .wasm size beside cedar-wasm's.
// Each contender is measured in ROUNDS interleaved rounds; the median round is reported,
// with the fastest and slowest. Prints a markdown table of ratios, then the absolute
// numbers; `--json FILE` also writes every number (bench/run renders BENCHMARKS.md from
// it); `--quick` takes short rounds, for checking the script, not for numbers;
// `--large-only` measures the large values alone (no --json then).
import { execFileSync } from 'node:child_process';
import { createCipheriv, randomBytes, webcrypto } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import * as phylax from '../dist/node.js';
// Bundles are signed where they are authored; the runtime entry (`phylax`) decides.
import * as authoring from '../dist/authoring/node.js';
import { packBundle } from '../test/conformance.mjs';
import { js, packCases, packSources } from '../test/fixtures.mjs';

const { values: args } = parseArgs({ options: { quick: { type: 'boolean' }, json: { type: 'string' }, 'large-only': { type: 'boolean' } } });
// Per contender: warm-up, then ROUNDS rounds of ROUND_MS (LARGE_MS for 1 MiB), interleaved.
const plan = args.quick
  ? { rounds: 2, warmMs: 50, roundMs: 150, largeMs: 250, coldRuns: 2 }
  : { rounds: 5, warmMs: 200, roundMs: 600, largeMs: 1000, coldRuns: 9 };

const cedar = await import('@cedar-policy/cedar-wasm/nodejs');
const require = createRequire(import.meta.url);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/**
 * Measures each contender (name -> fn, sync or async) in interleaved rounds of `ms`.
 * Calls are timed in batches sized from the warm-up so the clock is read about every
 * 100 µs. Returns name -> { ns (median per call), min, max, rounds: [ns per call] }.
 */
async function compare(contenders, { ms = plan.roundMs } = {}) {
  const state = {};
  for (const [name, fn] of Object.entries(contenders)) {
    const isAsync = fn() instanceof Promise;
    const call = isAsync ? async () => { await fn(); } : fn;
    let n = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < plan.warmMs) { await call(); n += 1; }
    const perCall = ((performance.now() - t0) * 1e6) / n;
    state[name] = { call, isAsync, batch: Math.max(1, Math.min(1000, Math.floor(1e5 / perCall))), rounds: [] };
  }
  for (let r = 0; r < plan.rounds; r++) {
    for (const s of Object.values(state)) {
      let n = 0;
      const t0 = performance.now();
      let t = t0;
      while (t - t0 < ms) {
        if (s.isAsync) for (let k = 0; k < s.batch; k++) await s.call();
        else for (let k = 0; k < s.batch; k++) s.call();
        n += s.batch;
        t = performance.now();
      }
      s.rounds.push(((t - t0) * 1e6) / n);
    }
  }
  return Object.fromEntries(Object.entries(state).map(([name, s]) =>
    [name, { ns: median(s.rounds), min: Math.min(...s.rounds), max: Math.max(...s.rounds), rounds: s.rounds }]));
}

const fmt = (ns) => (ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : ns >= 1e3 ? `${(ns / 1e3).toFixed(2)} µs` : `${ns.toFixed(0)} ns`);
const ratio = (x) => `${x.toFixed(2)}×`;

// ------------------------------------------------------------------ large values
const LARGE_LABEL = { [1 << 20]: '1 MiB', [16 << 20]: '16 MiB' };

/** The page that runs bench/large-payloads.mjs in Chromium over the browser entry. */
const largePage = (largePlan) => `<!doctype html><meta charset="utf-8"><title>phylax large values</title>
<script type="module">
  try {
    const phylax = await import('/dist/browser.js');
    const { measureLarge } = await import('/bench/large-payloads.mjs');
    window.__large = { ...(await measureLarge(phylax, ${JSON.stringify(largePlan)})), userAgent: navigator.userAgent };
  } catch (e) {
    window.__error = String(e && e.stack || e);
  }
</script>`;

async function largeInChromium(largePlan) {
  const { launchChromium, serve } = await import('../test/harness.mjs');
  const server = await serve({ '/dist/': join(js, 'dist'), '/bench/': join(js, 'bench') }, { '/index.html': largePage(largePlan) });
  let browser;
  try {
    browser = await launchChromium();
    const page = await browser.page();
    await page.goto(`${server.url}/index.html`);
    await page.waitForFunction(() => window.__large !== undefined || window.__error !== undefined, null, { timeout: 600_000 });
    const { result, error } = await page.evaluate(() => ({ result: window.__large, error: window.__error }));
    if (error) throw new Error(error);
    return result;
  } finally {
    await browser?.close();
    await server.close();
  }
}

/** encryptBytesAsync / decryptBytesAsync vs bare WebCrypto at 1 and 16 MiB, in Node and Chromium, with the load around them. */
async function largeValues() {
  const { measureLarge } = await import('./large-payloads.mjs');
  const largePlan = { rounds: plan.rounds, warmMs: plan.warmMs, roundMs: plan.largeMs };
  const before = loadavg();
  const node = { ...(await measureLarge(phylax, largePlan)), node: process.version };
  let chromium;
  try {
    chromium = await largeInChromium(largePlan);
  } catch (err) {
    chromium = { error: String(err?.message ?? err).split('\n')[0] };
  }
  return { plan: largePlan, load: { before, after: loadavg() }, node, chromium };
}

/** Ratio rows (> 1×: Phylax faster) and absolute rows of the large values. */
function largeRows(large) {
  const ratios = [];
  const absolute = [];
  for (const [runtime, result] of [['Node', large.node], ['Chromium', large.chromium]]) {
    if (result.error) {
      ratios.push([`encryptBytesAsync / decryptBytesAsync: phylax vs WebCrypto (${runtime})`, `not run: ${result.error}`, '≥ 0.8×']);
      continue;
    }
    for (const op of ['encrypt', 'decrypt']) {
      for (const size of result.sizes) {
        const { phylax: ours, webcrypto } = result[op][size];
        ratios.push([`${op}BytesAsync ${LARGE_LABEL[size]}: phylax vs WebCrypto (${runtime})`, ratio(webcrypto.ns / ours.ns), '≥ 0.8×']);
        absolute.push([`${op}BytesAsync ${LARGE_LABEL[size]} vs WebCrypto (${runtime})`, fmt(ours.ns), fmt(webcrypto.ns)]);
      }
    }
  }
  const la = (l) => l.map((x) => x.toFixed(2)).join(' / ');
  const note = `Large values: load average (1 / 5 / 15 min) ${la(large.load.before)} before, ${la(large.load.after)} after${large.chromium.userAgent ? `; ${large.chromium.userAgent.match(/(?:Headless)?Chrome\/[\d.]+/)?.[0] ?? 'Chromium'}` : ''}.`;
  return { ratios, absolute, note };
}

if (args['large-only']) {
  const large = await largeValues();
  const { ratios, absolute, note } = largeRows(large);
  console.log(`# phylax JS benchmarks: large values only${args.quick ? ' (--quick)' : ''}\n\nNode ${process.version}, ${process.platform}/${process.arch}. ${note}\n`);
  console.log('| comparison | ratio | target |\n|---|---:|---|');
  for (const r of ratios) console.log(`| ${r.join(' | ')} |`);
  console.log('\n| measurement | phylax | peer |\n|---|---:|---:|');
  for (const r of absolute) console.log(`| ${r.join(' | ')} |`);
  process.exit(0);
}

// ------------------------------------------------------------------ decisions
const table = packCases();
const pack = packSources();
const signer = authoring.generateSigningKey();
const signed = authoring.signBundle(packBundle(pack), signer.secretKey);
const engine = phylax.Engine.fromBundle(signed, { publicKey: signer.publicKey, entities: table.baseEntities });
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
// The engine keeps request entities it has parsed (core `policy::entity_cache`), and the
// pack cases reuse 30 entities. `phylaxNewEntities` is the other extreme: every request
// names users, records and API keys (every type the requests bring) never seen before,
// ids renamed consistently so decisions are the same, cycling through more entities than
// the cache holds, so every one is parsed.
const renamed = (value, n) => {
  if (Array.isArray(value)) return value.map((v) => renamed(v, n));
  if (value === null || typeof value !== 'object') return value;
  const out = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renamed(v, n)]));
  if (['User', 'Record', 'ApiKey'].includes(out.type) && typeof out.id === 'string') out.id = `${out.id}~${n}`;
  return out;
};
const fresh = Array.from({ length: 4000 }, (_, n) => renamed(cases[n % cases.length].request, n));
for (const [n, request] of fresh.entries()) {
  if (engine.authorize(request).decision !== engine.authorize(cases[n % cases.length].request).decision) disagreements += 1;
}
let i = 0;
const next = () => (i = (i + 1) % cases.length);
let f = 0;
const decisions = await compare({
  phylax: () => engine.authorize(cases[next()].request),
  phylaxNewEntities: () => engine.authorize(fresh[(f = (f + 1) % fresh.length)]),
  stateful: () => cedar.statefulIsAuthorized({ ...calls[next()], preparsedSchemaName: 'pack', preparsedPolicySetId: 'pack' }),
  isAuthorized: () => cedar.isAuthorized({ ...calls[next()], schema: pack.schema, policies }),
});
const decisionNs = Object.fromEntries(Object.entries(decisions).map(([k, v]) => [k, v.ns]));

// ------------------------------------------------------------------ list-query plans
// A provider's plan for `view` on records, beside one decision of the same provider.
const drTenant = { type: 'Tenant', id: 'acme' };
const dr = { uid: { type: 'User', id: 'dr-bench' }, attrs: { tenant: drTenant }, parents: [{ type: 'Role', id: 'provider' }] };
const planRequest = { principal: dr.uid, action: { type: 'Action', id: 'view' }, resourceType: 'Record', context: { mfa: true }, entities: [dr] };
const oneDecision = {
  principal: dr.uid, action: { type: 'Action', id: 'view' }, resource: { type: 'Record', id: 'rb-1' }, context: { mfa: true },
  entities: [dr, { uid: { type: 'Record', id: 'rb-1' }, attrs: { tenant: drTenant, patient: { type: 'User', id: 'pb-1' } }, parents: [] },
    { uid: { type: 'User', id: 'pb-1' }, attrs: { tenant: drTenant, providers: [dr.uid] }, parents: [{ type: 'Role', id: 'patient' }] }],
};
if (engine.planResources(planRequest).decision !== 'conditional' || engine.authorize(oneDecision).decision !== 'allow') {
  throw new Error('the plan benchmark requests do not decide as expected');
}
const plans = await compare({
  planResources: () => engine.planResources(planRequest),
  authorize: () => engine.authorize(oneDecision),
});

// ------------------------------------------------------------------ field encryption
const keyring = phylax.Keyring.create('acme', phylax.RootKey.insecureDevKey());
const aesKey = randomBytes(32);
const webKey = await webcrypto.subtle.importKey('raw', aesKey, 'AES-GCM', false, ['encrypt']);
const aad = Buffer.from('acme|patients.diagnosis|rec-1');
const sizes = [32, 256, 4096, 1 << 20];
const encryption = {};
for (const size of sizes) {
  const text = 'x'.repeat(size);
  const bytes = Buffer.from(text);
  encryption[size] = await compare({
    phylax: () => keyring.encryptField('patients.diagnosis', 'rec-1', text),
    node: () => {
      const cipher = createCipheriv('aes-256-gcm', aesKey, randomBytes(12));
      cipher.setAAD(aad);
      return Buffer.concat([cipher.update(bytes), cipher.final(), cipher.getAuthTag()]);
    },
    webcrypto: () => webcrypto.subtle.encrypt({ name: 'AES-GCM', iv: webcrypto.getRandomValues(new Uint8Array(12)), additionalData: aad }, webKey, bytes),
  }, { ms: size >= 1 << 20 ? plan.largeMs : plan.roundMs });
}
const enc = Object.fromEntries(sizes.map((s) => [s, Object.fromEntries(Object.entries(encryption[s]).map(([k, v]) => [k, v.ns]))]));
const large = await largeValues();
const largeReport = largeRows(large);

// ------------------------------------------------------------------ cold start and size
const coldScript = `
  const t0 = performance.now();
  const p = await import('phylax');
  const t1 = performance.now();
  const engine = p.Engine.fromBundle(${JSON.stringify(JSON.stringify(signed))}, { publicKey: ${JSON.stringify(signer.publicKey)} });
  const t2 = performance.now();
  engine.authorize(${JSON.stringify(cases[0].request)});
  const t3 = performance.now();
  console.log(JSON.stringify({ importMs: t1 - t0, bundleMs: t2 - t1, firstDecisionMs: t3 - t2 }));`;
// cedar-wasm doing the same from nothing: import, preparse the same schema and policies,
// one stateful decision of the same request (with every entity, as it keeps none).
const cedarColdScript = `
  const t0 = performance.now();
  const cedar = await import('@cedar-policy/cedar-wasm/nodejs');
  const t1 = performance.now();
  const s = cedar.preparseSchema('pack', ${JSON.stringify(pack.schema)});
  const p = cedar.preparsePolicySet('pack', ${JSON.stringify(policies)});
  const t2 = performance.now();
  const d = cedar.statefulIsAuthorized({ ...${JSON.stringify(cedarCall(cases[0]))}, preparsedSchemaName: 'pack', preparsedPolicySetId: 'pack' });
  const t3 = performance.now();
  for (const a of [s, p, d]) if (a.type !== 'success') throw new Error(JSON.stringify(a.errors));
  console.log(JSON.stringify({ importMs: t1 - t0, preparseMs: t2 - t1, firstDecisionMs: t3 - t2, decision: d.response.decision }));`;
// Fresh processes, the two interleaved so drift in the machine's load hits both alike.
// Each round also runs both with V8 compiling WebAssembly on one background thread instead of
// several (`--wasm-num-compilation-tasks=1`): on 2 cores the default's background tier-up
// takes CPU from the main thread, and this shows how much of a cold start that is.
const coldRuns = [];
const cedarColdRuns = [];
const coldRunsOneTask = [];
const cedarColdRunsOneTask = [];
const inFreshProcess = (flags, script) => JSON.parse(execFileSync(process.execPath, [...flags, '--input-type=module', '-e', script], { cwd: js, encoding: 'utf8' }));
for (let i = 0; i < plan.coldRuns; i++) {
  coldRuns.push(inFreshProcess([], coldScript));
  cedarColdRuns.push(inFreshProcess([], cedarColdScript));
  coldRunsOneTask.push(inFreshProcess(['--wasm-num-compilation-tasks=1'], coldScript));
  cedarColdRunsOneTask.push(inFreshProcess(['--wasm-num-compilation-tasks=1'], cedarColdScript));
}
// The median of each phase over fresh processes.
const medians = (runs) => Object.fromEntries(Object.keys(runs[0]).filter((k) => k.endsWith('Ms')).map((k) => [k, median(runs.map((r) => r[k]))]));
const cold = medians(coldRuns);
const cedarCold = medians(cedarColdRuns);
const totalMs = (runs) => median(runs.map((r) => Object.entries(r).filter(([k]) => k.endsWith('Ms')).reduce((a, [, v]) => a + v, 0)));
cold.totalMs = totalMs(coldRuns);
cedarCold.totalMs = totalMs(cedarColdRuns);
const coldOneTask = { ...medians(coldRunsOneTask), totalMs: totalMs(coldRunsOneTask) };
const cedarColdOneTask = { ...medians(cedarColdRunsOneTask), totalMs: totalMs(cedarColdRunsOneTask) };
const ourWasm = readFileSync(join(js, 'dist', 'wasm', 'phylax_bg.wasm'));
const cedarWasm = readFileSync(join(require.resolve('@cedar-policy/cedar-wasm/nodejs').replace(/cedar_wasm\.js$/, ''), 'cedar_wasm_bg.wasm'));
const gz = (b) => gzipSync(b, { level: 9 }).length;
const kb = (n) => `${(n / 1024).toFixed(0)} KiB`;

// ------------------------------------------------------------------ report
const label = { 32: '32 B', 256: '256 B', 4096: '4 KiB', [1 << 20]: '1 MiB' };
const rows = [
  ['decision: phylax vs cedar-wasm `statefulIsAuthorized`', ratio(decisionNs.stateful / decisionNs.phylax), '≥ 3×'],
  ['decision, every entity new to the engine: phylax vs cedar-wasm `statefulIsAuthorized`', ratio(decisionNs.stateful / decisionNs.phylaxNewEntities), ''],
  ['decision: phylax vs cedar-wasm `isAuthorized`', ratio(decisionNs.isAuthorized / decisionNs.phylax), ''],
  ...sizes.map((s) => [`encryptField ${label[s]}: phylax vs WebCrypto`, ratio(enc[s].webcrypto / enc[s].phylax), s <= 256 ? '≥ 10×' : '']),
  ...sizes.map((s) => [`encryptField ${label[s]}: phylax vs node:crypto`, ratio(enc[s].node / enc[s].phylax), '']),
  ...largeReport.ratios,
  ['gzipped .wasm: phylax / cedar-wasm', ratio(gz(ourWasm) / gz(cedarWasm)), '≤ 700 KB phylax'],
];
console.log(`# phylax JS benchmarks${args.quick ? ' (--quick: short rounds, numbers are noisy)' : ''}\n\nNode ${process.version}, ${process.platform}/${process.arch}, cedar-wasm ${cedar.getCedarSDKVersion?.() ?? ''}; ${cases.length} healthcare pack cases, ${disagreements} disagreements.\n`);
console.log('Ratios (> 1× means phylax is faster / larger):\n');
console.log('| comparison | ratio | target |\n|---|---:|---|');
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
console.log('\nAbsolute numbers (time per call):\n');
console.log('| measurement | phylax | peer |\n|---|---:|---:|');
console.log(`| decision vs statefulIsAuthorized | ${fmt(decisionNs.phylax)} | ${fmt(decisionNs.stateful)} |`);
console.log(`| decision vs isAuthorized | ${fmt(decisionNs.phylax)} | ${fmt(decisionNs.isAuthorized)} |`);
console.log(`| plan (provider, records) vs one authorize | ${fmt(plans.planResources.ns)} | ${fmt(plans.authorize.ns)} |`);
console.log(`| decision, every entity new, vs statefulIsAuthorized | ${fmt(decisionNs.phylaxNewEntities)} | ${fmt(decisionNs.stateful)} |`);
for (const s of sizes) console.log(`| encrypt ${label[s]} vs WebCrypto | ${fmt(enc[s].phylax)} | ${fmt(enc[s].webcrypto)} |`);
for (const s of sizes) console.log(`| encrypt ${label[s]} vs node:crypto | ${fmt(enc[s].phylax)} | ${fmt(enc[s].node)} |`);
for (const r of largeReport.absolute) console.log(`| ${r.join(' | ')} |`);
console.log(`| .wasm size (raw / gzip -9) | ${kb(ourWasm.length)} / ${kb(gz(ourWasm))} | ${kb(cedarWasm.length)} / ${kb(gz(cedarWasm))} |`);
console.log(`| cold start: import + instantiate | ${cold.importMs.toFixed(1)} ms | |`);
console.log(`| cold start: load signed bundle | ${cold.bundleMs.toFixed(1)} ms | |`);
console.log(`| cold start: first decision | ${cold.firstDecisionMs.toFixed(2)} ms | |`);
console.log(`| cold start, total (cedar-wasm: import + preparse + first stateful decision) | ${cold.totalMs.toFixed(1)} ms | ${cedarCold.totalMs.toFixed(1)} ms |`);
console.log(`| cold start, total, \`--wasm-num-compilation-tasks=1\` | ${coldOneTask.totalMs.toFixed(1)} ms | ${cedarColdOneTask.totalMs.toFixed(1)} ms |`);
console.log(`\n${largeReport.note}`);
if (args.json) {
  writeFileSync(args.json, `${JSON.stringify({
    quick: Boolean(args.quick), plan, node: process.version, platform: `${process.platform}/${process.arch}`,
    cedarWasm: cedar.getCedarSDKVersion?.() ?? null, cedarLang: cedar.getCedarLangVersion?.() ?? null,
    cases: cases.length, disagreements, decisions, encryption, plans, largeValues: large,
    coldStart: { ...cold, runs: coldRuns },
    coldStartCedar: { ...cedarCold, runs: cedarColdRuns },
    coldStartOneTask: { ...coldOneTask, runs: coldRunsOneTask },
    coldStartCedarOneTask: { ...cedarColdOneTask, runs: cedarColdRunsOneTask },
    wasmSize: {
      phylax: { raw: ourWasm.length, gzip: gz(ourWasm) },
      ...Object.fromEntries(['crypto', 'authoring'].map((tree) => {
        const bytes = readFileSync(join(js, 'dist', tree, 'wasm', 'phylax_bg.wasm'));
        return [`phylax/${tree}`, { raw: bytes.length, gzip: gz(bytes) }];
      })),
      cedarWasm: { raw: cedarWasm.length, gzip: gz(cedarWasm) },
    },
  }, null, 2)}\n`);
}
if (disagreements > 0) {
  console.error(`\n${disagreements} cases decided differently by phylax and cedar-wasm`);
  process.exitCode = 1;
}

// Audit review at scale: a tenant chain of 100,000 events, then filtered pages newest
// first through the HTTP API (what the console's audit page asks for), on SQLite and on
// PostgreSQL, and one-click verification of the whole chain. Part of `bench/run`
// (area `console`); not a test: it asserts nothing about time.
//
// Usage: node console/bench/audit.mjs --json OUT [--quick] [--postgres URL]
//   PHYLAX_BIN defaults to $CARGO_TARGET_DIR/release/phylax.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const args = process.argv.slice(2);
const opt = (name) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const quick = args.includes('--quick');
const out = opt('--json');
const postgres = opt('--postgres');
const target = process.env.CARGO_TARGET_DIR ?? join(homedir(), '.cache', 'phylax', 'target');
const bin = process.env.PHYLAX_BIN ?? join(target, 'release', 'phylax');
const EVENTS = 100_000;
const ROUNDS = quick ? 20 : 200;
const ADMIN = `bench-admin-${process.pid}-${Date.now()}`;
const ROOT_KEY = 'BiOxd2NOIkZVKkBFwimZKP6iCHXGOVrbvVSijHorDRE';

async function start(store) {
  const dir = mkdtempSync(join(tmpdir(), 'phylax-audit-bench-'));
  const env = { ...process.env, PHYLAX_ADMIN_TOKEN: ADMIN, PHYLAX_ROOT_KEY: ROOT_KEY, RUST_LOG: 'warn' };
  if (store) {
    // A shared store takes its keys from the environment (fixed ones: a benchmark's data).
    Object.assign(env, {
      PHYLAX_STORE: store,
      PHYLAX_AUDIT_KEY: '6LZ8hVLRlYx6bH0R_eI6rnwK-kcm8qCivz1T8qwX7-w',
      PHYLAX_BUNDLE_SIGNING_KEY: 'RZqH2W6V8x-5lYe00JkS1JKmSO-HryedyCtAZJipYvM',
    });
  }
  const child = spawn(bin, ['serve', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'data'),
    '--rate-limit-burst', '10000000', '--rate-limit-per-second', '1000000', '--body-limit', '8388608'],
  { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`phylax exited with ${code}`)));
  });
  const base = line.replace('phylax listening on ', '').trim();
  return { base, stop() { child.kill('SIGTERM'); rmSync(dir, { recursive: true, force: true }); } };
}

async function call(base, method, path, { token = ADMIN, body, headers = {} } = {}) {
  const r = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await r.json();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(json)}`);
  return json.ok;
}

/** 100,000 events over 500 users, 4 roles, 10,000 patient records, 50 addresses; 1% denied. */
async function fill(base, key) {
  const now = Math.floor(Date.now() / 1000);
  const roles = ['staff', 'provider', 'owner', 'patient'];
  const actions = ['view', 'view', 'view', 'update', 'create', 'export'];
  for (let batch = 0; batch < EVENTS / 1000; batch++) {
    const events = [];
    for (let j = 0; j < 1000; j++) {
      const i = batch * 1000 + j;
      const e = {
        tenant: 'bench',
        actor: { id: `user:u${i % 500}`, role: roles[i % 4], sourceIp: `10.2.${i % 50}.1` },
        action: actions[i % actions.length],
        operation: `chart.${actions[i % actions.length]}`,
        record: { type: 'Patient', id: `p${(i * 7919) % 10_000}` },
        time: now - 3000 + Math.floor((i * 3000) / EVENTS),
        outcome: i % 100 === 0 ? 'denied' : 'success',
      };
      if (e.action === 'update') e.changedFields = ['diagnosis'];
      events.push(e);
    }
    await call(base, 'POST', '/v1/tenants/bench/audit/events', { token: key, body: { events } });
  }
  return now;
}

function stats(ms) {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return { medianMs: at(0.5), p95Ms: at(0.95), p99Ms: at(0.99), maxMs: s[s.length - 1] };
}

async function measure(store, label) {
  const server = await start(store);
  try {
    await call(server.base, 'POST', '/v1/tenants', { body: { id: 'bench' } });
    const issued = await call(server.base, 'POST', '/v1/tenants/bench/api-keys', {
      body: { scopes: ['audit:write', 'audit:read'], name: 'bench' },
      headers: { 'x-phylax-break-glass': 'audit review benchmark' },
    });
    const key = issued.apiKey;
    const t0 = performance.now();
    const now = await fill(server.base, key);
    const fillMs = performance.now() - t0;
    const queries = [
      ['newest page, no filter', 'order=desc&limit=50'],
      ['actor', 'order=desc&limit=50&actor=user:u42'],
      ['outcome = denied (1%)', 'order=desc&limit=50&outcome=denied'],
      ['record (type and id)', 'order=desc&limit=50&recordType=Patient&recordId=p1234'],
      ['actor + action + outcome', 'order=desc&limit=50&actor=user:u7&action=view&outcome=success'],
      ['role + outcome = denied', 'order=desc&limit=50&role=provider&outcome=denied'],
      ['source address', 'order=desc&limit=50&sourceIp=10.2.17.1'],
      ['time range (10 minutes)', `order=desc&limit=50&from=${now - 2000}&to=${now - 1400}`],
      ['deep page (before seq 20,000)', 'order=desc&limit=50&before=20000'],
      ['actor, 10th page', 'order=desc&limit=50&actor=user:u42&before=20000'],
    ];
    const results = [];
    for (const [name, q] of queries) {
      const path = `/v1/tenants/bench/audit/events?${q}`;
      let rows = 0;
      for (let i = 0; i < 5; i++) rows = (await call(server.base, 'GET', path, { token: key })).records.length;
      const ms = [];
      for (let i = 0; i < ROUNDS; i++) {
        const s = performance.now();
        await call(server.base, 'GET', path, { token: key });
        ms.push(performance.now() - s);
      }
      results.push({ name, query: q, rows, ...stats(ms) });
    }
    const verify = [];
    let verified = 0;
    for (let i = 0; i < 3; i++) {
      const s = performance.now();
      const v = await call(server.base, 'POST', '/v1/tenants/bench/audit/verify', { token: key, body: {} });
      verify.push(performance.now() - s);
      if (!v.valid) throw new Error(`chain not valid: ${JSON.stringify(v)}`);
      verified = v.records;
    }
    return { store: label, events: EVENTS, fillMs, rounds: ROUNDS, queries: results, verify: { records: verified, ...stats(verify) } };
  } finally {
    server.stop();
  }
}

const runs = [await measure(undefined, 'sqlite')];
if (postgres) runs.push(await measure(postgres, 'postgres'));
for (const r of runs) {
  console.log(`${r.store}: ${r.events} events filled in ${(r.fillMs / 1000).toFixed(1)} s; verify ${r.verify.medianMs.toFixed(0)} ms`);
  for (const q of r.queries) console.log(`  ${q.name.padEnd(32)} ${String(q.rows).padStart(3)} rows  median ${q.medianMs.toFixed(2)} ms  p99 ${q.p99Ms.toFixed(2)} ms`);
}
if (out) writeFileSync(out, JSON.stringify({ runs }, null, 2));

// The package's three entries (`phylax`, `phylax/crypto`, `phylax/authoring`): each module
// within its gzip budget, each condition resolving into its own tree, the crypto entry
// without Cedar, and values made by one entry accepted by another (they are one format).
// The conformance cases run against each entry too (`test/cases.mjs all`: e.g. `workerd.phylax`).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { js } from './fixtures.mjs';

/**
 * gzip -9 budgets, bytes. Sizes are deterministic (same sources, same toolchain), so an
 * entry that grows past its budget fails here. Issue 16's targets: `phylax/crypto` 300 KB,
 * `phylax/authoring` no larger than the package was (1.64 MB). The runtime entry's target
 * (900 KB) is not reached while it carries all of Cedar (BENCHMARKS.md, "Where the
 * module's bytes go"); its budget is the authoring one until it is.
 */
const BUDGETS = {
  'phylax/crypto': { wasm: 'dist/crypto/wasm/phylax_bg.wasm', max: 300_000 },
  phylax: { wasm: 'dist/wasm/phylax_bg.wasm', max: 1_640_000 },
  'phylax/authoring': { wasm: 'dist/authoring/wasm/phylax_bg.wasm', max: 1_640_000 },
};

test('each entry is within its gzip -9 budget', () => {
  for (const [entry, { wasm, max }] of Object.entries(BUDGETS)) {
    const gz = gzipSync(readFileSync(join(js, wasm)), { level: 9 }).length;
    console.log(`${entry}: ${gz} bytes gzipped (budget ${max})`);
    assert.ok(gz <= max, `${entry}: ${gz} bytes gzipped, over its budget of ${max}`);
  }
});

test('every entry resolves per condition into its own tree', () => {
  // In Node the `node` condition wins (edge-light, workerd and browser are listed after
  // it, for those runtimes' bundlers), so Node resolves the node files; the table below
  // is what the other runtimes see, and test/cases.mjs loads each entry there.
  const resolve = (specifier) => execFileSync(process.execPath, [
    '--input-type=module', '-e', `console.log(import.meta.resolve(${JSON.stringify(specifier)}))`,
  ], { cwd: js, encoding: 'utf8' }).trim();
  const trees = { phylax: 'dist/', 'phylax/crypto': 'dist/crypto/', 'phylax/authoring': 'dist/authoring/' };
  for (const [specifier, tree] of Object.entries(trees)) {
    assert.ok(resolve(specifier).endsWith(`/js/${tree}node.js`), specifier);
    assert.ok(resolve(`${specifier}/init`).endsWith(`/js/${tree}init.js`), `${specifier}/init`);
  }
  const pkg = JSON.parse(readFileSync(join(js, 'package.json'), 'utf8'));
  for (const [specifier, tree] of Object.entries(trees)) {
    const key = specifier === 'phylax' ? '.' : `./${specifier.slice('phylax/'.length)}`;
    assert.deepEqual(pkg.exports[key], {
      types: `./dist/${tree.slice(5)}index.d.ts`, node: `./${tree}node.js`, 'edge-light': `./${tree}edge-light.js`,
      workerd: `./${tree}workerd.js`, browser: `./${tree}browser.js`, default: `./${tree}browser.js`,
    });
  }
  assert.equal(pkg.exports['./crypto.wasm'], './dist/crypto/wasm/phylax_bg.wasm');
  assert.equal(pkg.exports['./authoring.wasm'], './dist/authoring/wasm/phylax_bg.wasm');
});

test('phylax/crypto has no Cedar, and its values are the other entries\' values', async () => {
  const crypto = await import('phylax/crypto');
  const full = await import('phylax/authoring');
  for (const name of ['Engine', 'validatePolicies', 'signBundle', 'verifyBundle', 'planToSql', 'planToPrisma']) {
    assert.equal(crypto[name], undefined, `phylax/crypto exports no ${name}`);
    assert.notEqual(full[name], undefined, `phylax/authoring exports ${name}`);
  }
  const glue = readFileSync(join(js, 'dist', 'crypto', 'wasm', 'phylax.js'), 'utf8');
  assert.ok(!/class Engine\b/.test(glue) && !/cedar/i.test(readFileSync(join(js, 'dist', 'crypto', 'wasm', 'phylax_bg.wasm')).toString('latin1')), 'no Cedar in the crypto module');

  // One keyring state, opened by both: fields cross both ways, indexes are equal.
  const rootHex = '5a'.repeat(32);
  const a = crypto.Keyring.create('acme', crypto.RootKey.parse(rootHex), 1_700_000_000);
  const b = full.Keyring.open(a.state(), full.RootKey.parse(rootHex));
  assert.equal(b.decryptField('patients.name', 'r1', a.encryptField('patients.name', 'r1', 'Ada')), 'Ada');
  assert.equal(a.decryptField('patients.name', 'r1', b.encryptField('patients.name', 'r1', 'Ada')), 'Ada');
  // Casefold runs NFKC: the platform's String.prototype.normalize in both modules; the
  // fullwidth, ligature and spacing variants index as the plain value.
  const spec = { normalization: 'casefold' };
  const plain = a.blindIndex('patients.name', 'ada lovelace', spec);
  for (const variant of ['ＡＤＡ  Lovelace', ' Ada\u00a0LOVELACE ', 'ada lovelace']) {
    assert.equal(a.blindIndex('patients.name', variant, spec), plain, variant);
    assert.equal(b.blindIndex('patients.name', variant, spec), plain, variant);
  }
  assert.notEqual(a.blindIndex('patients.name', 'ada lovelac', spec), plain);

  // API keys and webhooks: issued by one entry, verified by the other.
  const issued = crypto.issueApiKey({ tenant: 'acme', scopes: ['records:read'], now: 1_700_000_000 });
  assert.deepEqual(full.verifyApiKey(issued.apiKey, issued.record, { now: 1_700_000_001 }).scopes, ['records:read']);
  const header = full.signWebhook('{"a":1}', 'whsec_test', 1_700_000_000);
  assert.equal(crypto.verifyWebhook(header, '{"a":1}', 'whsec_test', { now: 1_700_000_010 }).secretIndex, 0);
});

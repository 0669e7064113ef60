// The conformance checks in workerd (Cloudflare's runtime) through miniflare: a worker
// module imports the package's `workerd` entry, whose `.wasm` import is a CompiledWasm
// module (modules rules), and runs the checks on fetch.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { execFileSync } from 'node:child_process';
import { Miniflare } from 'miniflare';
import { bundle, report } from './harness.mjs';
import { conformanceData, js } from './fixtures.mjs';

test('the workerd binary runs on this machine', () => {
  const out = execFileSync(join(js, 'node_modules', '@cloudflare', 'workerd-linux-64', 'bin', 'workerd'), ['--version'], { encoding: 'utf8' });
  assert.match(out, /^workerd \d{4}-\d{2}-\d{2}/);
});

test('workerd (miniflare): conformance through the workerd entry', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'phylax-workerd-'));
  let mf;
  try {
    // The worker: dist/workerd.js and the checks bundled into one module; the .wasm stays an import.
    const worker = await bundle(`
      import * as phylax from '../dist/workerd.js';
      import { run } from './conformance.mjs';
      export default {
        async fetch(request) {
          const data = await request.json();
          const compiledFromBytes = await WebAssembly.compile(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0])).then(() => 'allowed', (e) => 'refused');
          return Response.json({ ...run(phylax, data), ready: phylax.isReady(), compiledFromBytes });
        },
      };`, { format: 'esm', external: ['*.wasm'] });
    mkdirSync(join(dir, 'wasm'));
    writeFileSync(join(dir, 'worker.mjs'), worker);
    copyFileSync(join(js, 'dist', 'wasm', 'phylax_bg.wasm'), join(dir, 'wasm', 'phylax_bg.wasm'));
    assert.match(worker, /from "\.\/wasm\/phylax_bg\.wasm"/, 'the .wasm import is left to workerd');

    mf = new Miniflare({
      modules: true,
      scriptPath: join(dir, 'worker.mjs'),
      modulesRoot: dir,
      modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'] }],
      compatibilityDate: '2025-09-01',
    });
    const res = await mf.dispatchFetch('http://localhost/', { method: 'POST', body: JSON.stringify(conformanceData()) });
    assert.equal(res.status, 200);
    const result = await res.json();
    assert.equal(result.ready, true);
    // workerd itself forbids compiling WebAssembly from bytes at run time.
    assert.equal(result.compiledFromBytes, 'refused');
    await report(t, result);
  } finally {
    await mf?.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});

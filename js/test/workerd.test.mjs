// The conformance checks in workerd (Cloudflare's runtime) through miniflare: a worker
// module imports the package's `workerd` entry, whose `.wasm` import is a CompiledWasm
// module (modules rules), and runs the checks on fetch.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { postToWorkerd, report } from './harness.mjs';
import { conformanceData, js } from './fixtures.mjs';

test('the workerd binary runs on this machine', () => {
  const out = execFileSync(join(js, 'node_modules', '@cloudflare', 'workerd-linux-64', 'bin', 'workerd'), ['--version'], { encoding: 'utf8' });
  assert.match(out, /^workerd \d{4}-\d{2}-\d{2}/);
});

test('workerd (miniflare): conformance through the workerd entry', async (t) => {
  // The worker: dist/workerd.js and the checks bundled into one module; the .wasm stays an import.
  const { worker, status, text } = await postToWorkerd(`
    import * as phylax from '../dist/authoring/workerd.js';
    import { run } from './conformance.mjs';
    export default {
      async fetch(request) {
        const data = await request.json();
        const compiledFromBytes = await WebAssembly.compile(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0])).then(() => 'allowed', (e) => 'refused');
        return Response.json({ ...(await run(phylax, data)), ready: phylax.isReady(), compiledFromBytes });
      },
    };`, JSON.stringify(conformanceData()));
  assert.match(worker, /from "\.\/wasm\/phylax_bg\.wasm"/, 'the .wasm import is left to workerd');
  assert.equal(status, 200, text.slice(0, 500));
  const result = JSON.parse(text);
  assert.equal(result.ready, true);
  // workerd itself forbids compiling WebAssembly from bytes at run time.
  assert.equal(result.compiledFromBytes, 'refused');
  await report(t, result);
});

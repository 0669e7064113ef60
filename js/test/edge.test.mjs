// The conformance checks inside Vercel's edge runtime emulator (npm `edge-runtime`), with
// code generation from strings and WebAssembly compilation from bytes both disallowed:
// the package is loaded through `phylax/init` with a precompiled WebAssembly.Module, as
// on Vercel Edge, where the platform compiles `?module` imports.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { bundle, edgeVM, platformModule, report } from './harness.mjs';
import { conformanceData, js } from './fixtures.mjs';

const wasmBytes = readFileSync(join(js, 'dist', 'authoring', 'wasm', 'phylax_bg.wasm'));

test('edge runtime (EdgeVM, no code generation): conformance through phylax/init', async (t) => {
  const script = await bundle(`
    import * as phylax from '../dist/authoring/init.js';
    import { run } from './conformance.mjs';
    globalThis.__conformance = (module, data) => { phylax.initPhylaxSync(module); return run(phylax, data); };
    globalThis.__phylax = phylax;`);
  const vm = edgeVM();
  vm.evaluate(script);

  // The VM really refuses to compile: from strings, and WebAssembly from bytes.
  vm.context.__bytes = new vm.context.Uint8Array(wasmBytes);
  assert.throws(() => vm.evaluate(`eval('1 + 1')`), /Code generation from strings disallowed/);
  assert.throws(() => vm.evaluate(`new Function('return 1')`), /Code generation from strings disallowed/);
  assert.throws(() => vm.evaluate(`new WebAssembly.Module(__bytes)`), /Wasm code generation disallowed/);
  const compileFailed = await vm.evaluate(`WebAssembly.compile(__bytes).then(() => 'compiled', (e) => 'refused: ' + e.message)`);
  assert.match(compileFailed, /^refused: .*Wasm code generation disallowed/);
  // Nor does the package find a way around it when handed bytes.
  assert.equal(vm.evaluate(`(() => { try { __phylax.initPhylaxSync(__bytes); return 'loaded'; } catch (e) { return 'refused'; } })()`), 'refused');
  assert.equal(vm.evaluate('__phylax.isReady()'), false);

  const module = platformModule(vm);
  const data = vm.evaluate('JSON.parse')(JSON.stringify(conformanceData()));
  const result = JSON.parse(await vm.evaluate('async (m, d) => JSON.stringify(await __conformance(m, d))')(module, data));
  await report(t, result);
});

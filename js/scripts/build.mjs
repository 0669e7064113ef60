// Builds the npm package: the Rust core to wasm32, wasm-bindgen glue, wasm-opt, then tsc.
// Usage: node scripts/build.mjs              (from js/; the test command runs it)
//        node scripts/build.mjs --ts-only    (only tsc, reusing the glue already in src/wasm*/)
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const js = dirname(dirname(fileURLToPath(import.meta.url)));
const root = dirname(js);
const target = process.env.CARGO_TARGET_DIR ?? join(root, 'target');
const tools = join(homedir(), '.cache', 'phylax', 'tools', 'bin');

function run(cmd, args, opts = {}) {
  console.log(`$ ${cmd} ${args.join(' ')}`);
  execFileSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts });
}

function which(name) {
  for (const dir of [tools, ...(process.env.PATH ?? '').split(':')]) {
    const candidate = join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`${name} not found: run scripts/test, which installs it into ${tools}`);
}

const tsOnly = process.argv.includes('--ts-only');

/**
 * The package's entries: the same TypeScript over its own build of the Rust bindings, so
 * each carries only what it uses. `glue` is where wasm-bindgen writes that build's glue
 * (`src/wasm/` is also what tsc type-checks against: the full set). `api` is the module
 * the entry's `api.js` is compiled from. An entry whose cargo features equal an earlier
 * one's reuses its build.
 */
const ENTRIES = [
  // `phylax`: deciding with engines from signed bundles, and everything in `phylax/crypto`;
  // no strict validation, no Cedar schema text (`Engine.fromParts` says to use authoring).
  { name: 'runtime', dist: '', glue: 'src/wasm-runtime', profile: 'wasm-release', features: ['--no-default-features', '--features', 'policy'], api: 'api' },
  // `phylax/authoring`: everything, including `Engine.fromParts` and `validatePolicies`.
  { name: 'authoring', dist: 'authoring', glue: 'src/wasm', profile: 'wasm-release', features: [], api: 'api' },
  // `phylax/crypto`: fields, records, blind indexes, API keys, tokens, webhooks, audit; no Cedar.
  { name: 'crypto', dist: 'crypto', glue: 'src/wasm-crypto', profile: 'wasm-crypto', features: ['--no-default-features'], api: 'api-crypto' },
];

if (tsOnly) {
  for (const entry of ENTRIES) {
    if (!existsSync(join(js, entry.glue, 'phylax_bg.wasm'))) throw new Error(`--ts-only needs the wasm-bindgen output in ${entry.glue}: run a full build once`);
  }
} else {
  const built = new Map();
  for (const entry of ENTRIES) {
    const key = [entry.profile, ...entry.features].join(' ');
    if (built.get(key) === entry.glue) continue;
    buildWasm(entry);
    built.set(key, entry.glue);
  }
}

/** Steps 1-3 for one entry: the bindings to wasm32, the wasm-bindgen glue, wasm-opt. */
function buildWasm(entry) {
  // 1. The core, compiled for the web.
  run('cargo', ['build', '-p', 'phylax-wasm', '--target', 'wasm32-unknown-unknown', '--profile', entry.profile, '--locked', ...entry.features]);
  const raw = join(target, 'wasm32-unknown-unknown', entry.profile, 'phylax_wasm.wasm');

  // 2. JS glue. `--target web` gives an init that takes a URL, bytes or a compiled Module.
  const glue = join(js, entry.glue);
  rmSync(glue, { recursive: true, force: true });
  run(which('wasm-bindgen'), ['--target', 'web', '--out-dir', glue, '--out-name', 'phylax', '--weak-refs', raw]);
  encodeLongStringsAtOnce(join(glue, 'phylax.js'));
  discardableInstance(join(glue, 'phylax.js'));
  modulesFromAnyRealm(join(glue, 'phylax.js'));

  // 3. Size: wasm-opt from npm binaryen (Debian's 108 breaks wasm-bindgen's output).
  const wasm = join(glue, 'phylax_bg.wasm');
  run(join(js, 'node_modules', '.bin', 'wasm-opt'), [
    '-Oz', '--enable-reference-types', '--enable-bulk-memory', '--enable-nontrapping-float-to-int',
    '--enable-sign-ext', '--enable-multivalue', '--enable-mutable-globals', wasm, '-o', wasm,
  ]);
}

/**
 * Step 2b. wasm-bindgen copies a string argument into wasm memory one UTF-16 unit at a
 * time while it is ASCII, and only then falls back to `TextEncoder#encodeInto`. For a
 * 256-character field value that loop took 524 ns against encodeInto's 58 ns (Node 20),
 * a tenth of an `encryptField`; every `engine.authorize` passes its request as a JSON
 * string of hundreds of characters. Strings longer than 64 units go to encodeInto at once:
 * a buffer of 3 bytes per unit (UTF-8's most per UTF-16 unit) shrunk to what was written,
 * the same bytes wasm-bindgen's fallback writes. Fails the build if the glue changes shape.
 */
function encodeLongStringsAtOnce(file) {
  const anchor = '    let len = arg.length;\n    let ptr = malloc(len, 1) >>> 0;\n';
  const text = readFileSync(file, 'utf8');
  const at = text.indexOf(anchor);
  if (at < 0 || text.indexOf(anchor, at + 1) >= 0 || !text.includes('function passStringToWasm0(arg, malloc, realloc)')) {
    throw new Error(`${file}: passStringToWasm0 is not the shape encodeLongStringsAtOnce patches; revisit it for this wasm-bindgen`);
  }
  const atOnce = [
    '    if (arg.length > 64) {',
    '        const cap = arg.length * 3;',
    '        const ptr = malloc(cap, 1) >>> 0;',
    '        const { written } = cachedTextEncoder.encodeInto(arg, getUint8ArrayMemory0().subarray(ptr, ptr + cap));',
    '        WASM_VECTOR_LEN = written;',
    '        return realloc(ptr, cap, written, 1) >>> 0;',
    '    }',
    '',
  ].join('\n');
  writeFileSync(file, text.slice(0, at) + atOnce + text.slice(at));
}

/**
 * Step 2b'. Two edits so bundlers and edge sandboxes get what the entries mean:
 * - a `WebAssembly.Module` compiled in another realm (Next.js's self-hosted edge sandbox
 *   compiles `?module` imports outside the sandbox) fails `instanceof` and the glue then
 *   tries to compile it again from "bytes": it is recognised by its brand instead;
 * - the glue's fallback `new URL('phylax_bg.wasm', import.meta.url)` makes Turbopack and
 *   webpack emit the `.wasm` a second time although every entry passes the module: a
 *   call without a source is refused instead.
 * Fails the build if the glue changes shape.
 */
function modulesFromAnyRealm(file) {
  const check = '    if (!(module instanceof WebAssembly.Module)) {\n';
  const fallback = "        module_or_path = new URL('phylax_bg.wasm', import.meta.url);\n";
  let text = readFileSync(file, 'utf8');
  if (text.split(check).length !== 2 || text.split(fallback).length !== 2) {
    throw new Error(`${file}: the glue is not the shape modulesFromAnyRealm patches; revisit it for this wasm-bindgen`);
  }
  text = text
    .replace(check, "    if (!(module instanceof WebAssembly.Module || Object.prototype.toString.call(module) === '[object WebAssembly.Module]')) {\n")
    .replace(fallback, "        throw new Error('phylax: pass the WebAssembly module, its bytes or its URL');\n");
  writeFileSync(file, text);
}

/**
 * Step 2c. After a trap the instance's memory and stack pointer cannot be trusted, so
 * `runtime.ts` discards it and instantiates the compiled module again. wasm-bindgen's
 * glue keeps one instance for good; this adds `__phylax_discard()`, which forgets it and
 * returns the compiled module, and an epoch in every finalizer's held value, so that an
 * object of the old instance, collected later, never frees memory of the new one.
 * Fails the build if the glue changes shape.
 */
function discardableInstance(file) {
  let text = readFileSync(file, 'utf8');
  const count = (re) => (text.match(re) ?? []).length;
  const registries = /new FinalizationRegistry\(ptr => wasm\.(__wbg_\w+_free)\(ptr, 1\)\)/g;
  const registers = /(\w+Finalization)\.register\((obj|this), \2\.__wbg_ptr, \2\)/g;
  const n = count(registries);
  if (n === 0 || n !== count(registers) || !text.includes('let wasmModule, wasmInstance, wasm;\n') || !text.includes('let __wbg_init_promise;\n')) {
    throw new Error(`${file}: the glue is not the shape discardableInstance patches; revisit it for this wasm-bindgen`);
  }
  text = text
    .replace(registries, 'new FinalizationRegistry(([ptr, epoch]) => { if (epoch === __phylax_epoch) wasm.$1(ptr, 1); })')
    .replace(registers, '$1.register($2, [$2.__wbg_ptr, __phylax_epoch], $2)')
    .replace('let wasmModule, wasmInstance, wasm;\n', 'let wasmModule, wasmInstance, wasm;\nlet __phylax_epoch = 0;\n');
  text += [
    '',
    '/** Phylax: forgets the instance (after a trap) and returns its compiled module. */',
    'export function __phylax_discard() {',
    '    const module = wasmModule;',
    '    __phylax_epoch += 1;',
    '    wasm = undefined;',
    '    wasmInstance = undefined;',
    '    cachedDataViewMemory0 = null;',
    '    cachedUint8ArrayMemory0 = null;',
    '    __wbg_init_promise = undefined;',
    '    return module;',
    '}',
    '',
  ].join('\n');
  writeFileSync(file, text);
  const dts = file.replace(/\.js$/, '.d.ts');
  writeFileSync(dts, readFileSync(dts, 'utf8') + '\n/** Phylax: forgets the instance (after a trap) and returns its compiled module. */\nexport function __phylax_discard(): WebAssembly.Module | undefined;\n');
}

// 4. TypeScript once into dist/; then each entry's tree: the compiled modules (its own
// `api.js`) and its glue beside them. The runtime entry is dist/ itself.
const dist = join(js, 'dist');
rmSync(dist, { recursive: true, force: true });
run(join(js, 'node_modules', '.bin', 'tsc'), ['-p', join(js, 'tsconfig.json')]);
const compiled = readdirSync(dist).filter((f) => /\.(js|d\.ts)$/.test(f));
for (const entry of ENTRIES) {
  const tree = join(dist, entry.dist);
  mkdirSync(join(tree, 'wasm'), { recursive: true });
  if (entry.dist !== '') {
    for (const file of compiled) copyFileSync(join(dist, file), join(tree, file));
  }
  if (entry.api !== 'api') {
    for (const ext of ['.js', '.d.ts']) copyFileSync(join(dist, entry.api + ext), join(tree, 'api' + ext));
  }
  for (const file of readdirSync(join(js, entry.glue))) copyFileSync(join(js, entry.glue, file), join(tree, 'wasm', file));
  const bytes = readFileSync(join(tree, 'wasm', 'phylax_bg.wasm'));
  const where = entry.dist === '' ? 'phylax' : `phylax/${entry.dist}`;
  console.log(`${where}: phylax_bg.wasm ${bytes.length} bytes, ${gzipSync(bytes, { level: 9 }).length} gzipped`);
}

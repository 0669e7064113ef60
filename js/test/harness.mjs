// Shared by the runtime tests: bundling the conformance module for script-only runtimes,
// running a worker in workerd, turning a remote conformance result into one node:test
// subtest per check, and a tiny static file server for Chromium.
import { build } from 'esbuild';
import { EdgeRuntime as EdgeVM } from 'edge-runtime';
import { copyFileSync, createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize, sep } from 'node:path';
import { js } from './fixtures.mjs';

/** Bundles `source` (an ES module text, resolved from js/test/) into one script or module. */
export async function bundle(source, { format = 'iife', external = [], plugins = [], globalName } = {}) {
  const out = await build({
    stdin: { contents: source, resolveDir: join(js, 'test'), sourcefile: 'entry.mjs', loader: 'js' },
    bundle: true, write: false, format, platform: 'neutral', target: 'es2022', external, plugins, globalName,
    mainFields: ['module', 'main'], conditions: [], logLevel: 'silent',
  });
  return out.outputFiles[0].text;
}

/**
 * Runs `source` (a worker module, resolved from js/test/) in workerd through miniflare and
 * POSTs `body` to it once. The package's `.wasm` stays an import that workerd loads as a
 * CompiledWasm module, as on Cloudflare. Returns the bundled worker code and the answer.
 * `trees`: the entries (`dist/` subtrees: 'authoring', '' for `phylax`, 'crypto') whose
 * `.wasm` the worker imports. One keeps its import `./wasm/phylax_bg.wasm`; with more,
 * each entry's import is renamed `./wasm/<tree or runtime>_bg.wasm`, as a bundler would.
 */
export async function postToWorkerd(source, body, trees = 'authoring') {
  const { Miniflare } = await import('miniflare');
  const list = Array.isArray(trees) ? trees : [trees];
  const fileOf = (tree) => (list.length === 1 ? 'phylax_bg.wasm' : `${tree || 'runtime'}_bg.wasm`);
  const dist = join(js, 'dist');
  const renamed = {
    name: 'entry-wasm',
    setup(b) {
      b.onResolve({ filter: /\.wasm$/ }, (args) => {
        const tree = args.resolveDir === dist ? '' : args.resolveDir.slice(dist.length + 1).split(sep)[0];
        if (!list.includes(tree)) return { errors: [{ text: `${args.path} from ${args.resolveDir}: not one of the entries ${JSON.stringify(list)}` }] };
        return { path: `./wasm/${fileOf(tree)}`, external: true };
      });
    },
  };
  const dir = mkdtempSync(join(tmpdir(), 'phylax-workerd-'));
  let mf;
  try {
    const worker = await bundle(source, { format: 'esm', plugins: [renamed] });
    mkdirSync(join(dir, 'wasm'));
    writeFileSync(join(dir, 'worker.mjs'), worker);
    for (const tree of list) copyFileSync(entryWasm(tree), join(dir, 'wasm', fileOf(tree)));
    mf = new Miniflare({
      modules: true,
      scriptPath: join(dir, 'worker.mjs'),
      modulesRoot: dir,
      modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'] }],
      compatibilityDate: '2025-09-01',
    });
    const res = await mf.dispatchFetch('http://localhost/', { method: 'POST', body });
    return { worker, status: res.status, text: await res.text() };
  } finally {
    await mf?.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One subtest per conformance check, failing with the remote message. */
export async function report(t, result) {
  if (!result || !Array.isArray(result.names)) throw new Error(`no conformance result: ${JSON.stringify(result)?.slice(0, 500)}`);
  const failed = new Map(result.failures.map((f) => [f.name, f.message]));
  for (const name of result.names) {
    await t.test(name, () => {
      if (failed.has(name)) throw new Error(failed.get(name));
    });
  }
  if (result.names.length < 20) throw new Error(`only ${result.names.length} checks ran`);
  if (result.failed !== 0 || result.passed !== result.names.length) throw new Error(`${result.failed} of ${result.names.length} checks failed`);
}

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json', '.wasm': 'application/wasm', '.css': 'text/css', '.ts': 'text/plain',
};

/** Serves `mounts` ({ '/url-prefix/': '/dir' }) and `extra` ({ '/path': body }) on 127.0.0.1, port chosen by the OS. */
export function serve(mounts, extra = {}) {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    if (path in extra) {
      res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
      return res.end(extra[path]);
    }
    for (const [prefix, dir] of Object.entries(mounts)) {
      if (!path.startsWith(prefix)) continue;
      const file = normalize(join(dir, path.slice(prefix.length)));
      if (!file.startsWith(dir + sep) || !existsSync(file) || !statSync(file).isFile()) break;
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
      return createReadStream(file).pipe(res);
    }
    res.writeHead(404).end('not found');
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const { port } = server.address();
    resolve({ url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }) });
  }));
}

/** Debian's Chromium, headless, with a fresh profile; never a downloaded browser. */
export async function launchChromium() {
  const { chromium } = await import('playwright-core');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const profile = mkdtempSync(join(tmpdir(), 'phylax-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
    timeout: 60_000,
  });
  return {
    context,
    async page() {
      const page = await context.newPage();
      const errors = [];
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
      page.errors = errors;
      return page;
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Vercel's edge runtime emulator with code generation from strings and wasm bytes disallowed. */
export function edgeVM() {
  return new EdgeVM({ codeGeneration: { strings: false, wasm: false } });
}

/**
 * The `.wasm` of an entry's tree: `authoring` (the tests' default: the whole API),
 * `crypto`, or '' for the runtime entry `phylax` (dist/ itself).
 */
export function entryWasm(tree) {
  return join(js, 'dist', ...(tree ? [tree] : []), 'wasm', 'phylax_bg.wasm');
}

/** An entry's module compiled by the "platform" (outside the VM), for code in `vm`. */
export function platformModule(vm, tree = 'authoring') {
  const module = new WebAssembly.Module(readFileSync(entryWasm(tree)));
  // A platform hands code a module of the code's own realm; Node's vm contexts each have
  // their own `WebAssembly.Module`, so the wasm-bindgen glue's `instanceof` check needs
  // the VM's prototype. The module itself stays the host-compiled one.
  Object.setPrototypeOf(module, vm.evaluate('WebAssembly.Module.prototype'));
  return module;
}

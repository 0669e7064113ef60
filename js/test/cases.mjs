// Replays conformance/cases/*.json through the npm package in each JS runtime and prints
// one line per runtime, the line the native and wasmtime runners print too:
//
//   cd js && node test/cases.mjs [node|edge|workerd|chromium][.phylax|.phylax-crypto] ...|all
//                                [--cases <dir>] [--max-failures <n>] [--show <text>]
//
// A bare runtime name runs `phylax/authoring` there; `.phylax` the runtime entry,
// `.phylax-crypto` the crypto entry; `all` runs the twelve.
//
//   conformance node: 2209 passed, 0 failed
//   conformance node.webcrypto: 52 passed, 0 failed (7 field cases have no bytes form)
//
// The second line counts the field encrypt/decrypt cases replayed again through
// `encryptBytesAsync` / `decryptBytesAsync` with the WebCrypto path forced (extra
// replays, not cases; `replayAsync` in cases-core.mjs); conformance/run.mjs lists it as
// a runtime of its own. Each line is followed by its failing cases (`suite/name: why`);
// `--show <text>` also prints the
// answer of every case whose `suite/name` contains the text. Exits 1 if a case failed, a
// runtime could not run, or no cases were found. Needs the built package
// (`node scripts/build.mjs`). The cases run in js/test/cases-core.mjs, shipped unchanged
// into the edge runtime (EdgeVM, no code generation, precompiled module through
// `phylax/init`), workerd (miniflare, the `workerd` entry, `.wasm` as CompiledWasm) and
// Chromium (the `browser` entry over HTTP from 127.0.0.1).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const js = dirname(dirname(fileURLToPath(import.meta.url)));
const PLACES = ['node', 'edge-runtime', 'workerd', 'chromium'];
// Each place through `phylax/authoring`, then through `phylax` and `phylax/crypto`.
const RUNTIMES = [...PLACES, ...PLACES.flatMap((p) => [`${p}.phylax`, `${p}.phylax-crypto`])];
const ALIASES = {
  ...Object.fromEntries(RUNTIMES.map((r) => [r, r])),
  edge: 'edge-runtime', 'edge.phylax': 'edge-runtime.phylax', 'edge.phylax-crypto': 'edge-runtime.phylax-crypto',
};
const USAGE = 'usage: node test/cases.mjs [node|edge|workerd|chromium][.phylax|.phylax-crypto] ... | all [--cases <dir>] [--max-failures <n>] [--show <text>]';

function parseArgs(argv) {
  const opts = { runtimes: [], cases: join(js, '..', 'conformance', 'cases'), maxFailures: 25, show: undefined };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--cases') opts.cases = resolve(argv[++i] ?? '');
    else if (arg.startsWith('--cases=')) opts.cases = resolve(arg.slice('--cases='.length));
    else if (arg === '--max-failures') opts.maxFailures = Number(argv[++i]);
    else if (arg === '--show') opts.show = argv[++i] ?? '';
    else if (arg === 'all') opts.runtimes.push(...RUNTIMES);
    else if (arg in ALIASES) opts.runtimes.push(ALIASES[arg]);
    else if (arg === '-h' || arg === '--help') {
      console.log(USAGE);
      process.exit(0);
    } else {
      console.error(`unknown argument \`${arg}\`\n${USAGE}`);
      process.exit(2);
    }
  }
  if (opts.runtimes.length === 0) opts.runtimes.push(...RUNTIMES);
  opts.runtimes = [...new Set(opts.runtimes)];
  if (!Number.isInteger(opts.maxFailures) || opts.maxFailures < 0) {
    console.error(`--max-failures must be a whole number\n${USAGE}`);
    process.exit(2);
  }
  return opts;
}

/** The case files, parsed; a file of another format is kept so every runtime reports it refused. */
function loadCases(dir) {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return { error: `no case directory ${dir}` };
  const names = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  const files = [];
  let cases = 0;
  for (const name of names) {
    const file = basename(name, '.json');
    let data;
    try {
      data = JSON.parse(readFileSync(join(dir, name), 'utf8'));
    } catch (err) {
      data = { format: `unreadable: ${err.message}` };
    }
    if (Array.isArray(data?.cases)) cases += data.cases.length;
    files.push({ file, data });
  }
  if (files.length === 0 || cases === 0) return { error: `no cases in ${dir} (${files.length} .json files)` };
  return { files, cases };
}

// ------------------------------------------------------------------ runtimes

// node, edge-runtime, workerd and chromium replay every case through `phylax/authoring`
// (the whole API: engines from specs). `<place>.phylax` replays them through the runtime
// entry, which loads engines only from signed bundles (specs are signed with authoring's
// signBundle, loaded beside it, see cases-core.mjs `viaBundle`); `<place>.phylax-crypto`
// through the crypto entry, which has no Cedar (the policy cases are counted as not run).
// `tree`: the entry's subtree of dist/ ('authoring/', '' for `phylax`, 'crypto/').

/** Whether the entry of `tree` needs `phylax/authoring` beside it (to sign the specs). */
const needsAuthor = (tree) => tree === '';

async function runNode(json, tree) {
  const phylax = await import(`../dist/${tree}node.js`);
  const { runCases, replayAsync } = await import('./cases-core.mjs');
  const { files, options } = JSON.parse(json);
  const author = needsAuthor(tree) ? await import('../dist/authoring/node.js') : undefined;
  return { ...runCases(phylax, files, { ...options, author }), webcrypto: await replayAsync(phylax, files, options) };
}

/** The imports of a worker or edge script (bundled from js/test/): the entry's `file`, authoring's beside it when needed, the cases. */
const runner = (tree, file) => `
  import * as phylax from '../dist/${tree}${file}';
  ${needsAuthor(tree) ? `import * as author from '../dist/authoring/${file}';` : 'const author = undefined;'}
  import { runCases, replayAsync } from './cases-core.mjs';`;

async function runEdge(json, tree) {
  const { bundle, edgeVM, platformModule } = await import('./harness.mjs');
  const script = await bundle(`
    ${runner(tree, 'init.js')}
    globalThis.__cases = async (module, authorModule, json) => {
      phylax.initPhylaxSync(module);
      author?.initPhylaxSync(authorModule);
      const { files, options } = JSON.parse(json);
      return JSON.stringify({ ...runCases(phylax, files, { ...options, author }), webcrypto: await replayAsync(phylax, files, options) });
    };`);
  const vm = edgeVM();
  vm.evaluate(script);
  // The edge's rule holds here: no WebAssembly compiled from bytes inside the VM.
  const refused = vm.evaluate(`(() => { try { new WebAssembly.Module(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0])); return false; } catch (e) { return true; } })()`);
  if (!refused) throw new Error('the EdgeVM compiled WebAssembly from bytes: it does not behave like the edge');
  const authorModule = needsAuthor(tree) ? platformModule(vm, 'authoring') : undefined;
  return JSON.parse(await vm.evaluate('__cases')(platformModule(vm, tree.replace(/\/$/, '')), authorModule, json));
}

async function runWorkerd(json, tree) {
  const { postToWorkerd } = await import('./harness.mjs');
  const trees = [tree, ...(needsAuthor(tree) ? ['authoring/'] : [])].map((t) => t.replace(/\/$/, ''));
  const { status, text } = await postToWorkerd(`
    ${runner(tree, 'workerd.js')}
    export default {
      async fetch(request) {
        const { files, options } = await request.json();
        return Response.json({ ...runCases(phylax, files, { ...options, author }), webcrypto: await replayAsync(phylax, files, options) });
      },
    };`, json, trees);
  if (status !== 200) throw new Error(`the worker answered ${status}: ${text.slice(0, 500)}`);
  return JSON.parse(text);
}

const page = (tree) => `<!doctype html><meta charset="utf-8"><title>phylax conformance cases</title>
<script type="module">
  try {
    const phylax = await import('/dist/${tree}browser.js');
    const author = ${needsAuthor(tree) ? "await import('/dist/authoring/browser.js')" : 'undefined'};
    const { runCases, replayAsync } = await import('/test/cases-core.mjs');
    const { files, options } = await (await fetch('/cases.json')).json();
    window.__result = { ...runCases(phylax, files, { ...options, author }), webcrypto: await replayAsync(phylax, files, options) };
  } catch (e) {
    window.__error = String(e && e.stack || e);
  }
</script>`;

async function runChromium(json, tree) {
  const { launchChromium, serve } = await import('./harness.mjs');
  const server = await serve({ '/dist/': join(js, 'dist'), '/test/': join(js, 'test') }, { '/index.html': page(tree), '/cases.json': json });
  let browser;
  try {
    browser = await launchChromium();
    const page = await browser.page();
    await page.goto(`${server.url}/index.html`);
    await page.waitForFunction(() => window.__result !== undefined || window.__error !== undefined, null, { timeout: 300_000 });
    const { result, error } = await page.evaluate(() => ({ result: window.__result, error: window.__error }));
    if (error) throw new Error(`the page failed: ${error}`);
    return result;
  } finally {
    await browser?.close();
    await server.close();
  }
}

const RUN_IN = { node: runNode, 'edge-runtime': runEdge, workerd: runWorkerd, chromium: runChromium };
const TREES = { '': 'authoring/', phylax: '', 'phylax-crypto': 'crypto/' };
/** Runs the cases in `runtime` (`place` or `place.entry`). */
function run(runtime, json) {
  const [place, entry = ''] = runtime.split('.');
  return RUN_IN[place](json, TREES[entry]);
}

// ------------------------------------------------------------------ main

const opts = parseArgs(process.argv.slice(2));
if (!existsSync(join(js, 'dist', 'wasm', 'phylax_bg.wasm')) || !existsSync(join(js, 'dist', 'node.js'))) {
  console.error(`conformance: ${join(js, 'dist')} is missing or incomplete: build the package first (cd js && node scripts/build.mjs)`);
  process.exit(2);
}
const loaded = loadCases(opts.cases);
if (loaded.error) {
  console.error(`conformance: ${loaded.error}`);
  process.exit(1);
}
const json = JSON.stringify({ files: loaded.files, options: { show: opts.show } });

let allOk = true;
for (const runtime of opts.runtimes) {
  let result;
  try {
    result = await run(runtime, json);
    if (!result || !Number.isInteger(result.passed) || !Array.isArray(result.failures)) throw new Error(`no result: ${JSON.stringify(result)?.slice(0, 300)}`);
  } catch (err) {
    result = { passed: 0, failed: loaded.cases, failures: [{ name: runtime, why: `could not run: ${err?.stack ?? err}` }] };
  }
  // The async replays' own line, when there was anything to replay (a directory may hold no field cases).
  const { webcrypto } = result;
  const lines = [[runtime, result, result.skipped ? ` (${result.skipped} cases not run: ${runtime.endsWith('.phylax') ? 'authoring only' : 'they need Cedar'})` : '']];
  if (webcrypto && webcrypto.passed + webcrypto.failures.length > 0) {
    lines.push([`${runtime}.webcrypto`, webcrypto, webcrypto.notReplayable ? ` (${webcrypto.notReplayable} field cases have no bytes form)` : '']);
  }
  for (const [name, r, note] of lines) {
    const failed = Math.max(r.failed, r.failures.length);
    if (failed > 0 || r.passed === 0) allOk = false;
    console.log(`conformance ${name}: ${r.passed} passed, ${failed} failed${note}`);
    for (const { name: id, why } of r.failures.slice(0, opts.maxFailures)) console.log(`  ${id}: ${why}`);
    if (r.failures.length > opts.maxFailures) console.log(`  ... and ${r.failures.length - opts.maxFailures} more`);
    for (const { name: id, answer } of r.shown ?? []) console.log(`  = ${id}: ${JSON.stringify(answer)}`);
  }
}
process.exit(allOk ? 0 : 1);

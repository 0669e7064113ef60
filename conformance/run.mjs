// Runs the conformance cases (conformance/cases/*.json) in every runtime, one after the
// other, and prints one summary line per runtime:
//
//   node conformance/run.mjs                  # native, wasmtime, then the four JS runtimes (each entry)
//   node conformance/run.mjs native js        # only some runners
//
// Each runner prints `conformance <runtime>: <passed> passed, <failed> failed` (its
// output streams through here); this script collects those lines. It exits non-zero if a
// runner failed or did not print the line of each runtime it covers. The npm package is
// not rebuilt: build it first (`cd js && node scripts/build.mjs`). CARGO_TARGET_DIR and
// the rest of the environment pass through to cargo. PHYLAX_CONFORMANCE_CASES=<dir> runs
// every runner on another case directory (e.g. a deliberately broken copy).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = dirname(here);

const RUNNERS = [
  {
    name: 'native',
    runtimes: ['native'],
    // `--workspace`, as in `cargo test --workspace`: selecting one package resolves
    // other features for the shared dependencies and rebuilds them all a second time.
    cmd: 'cargo', args: ['test', '--workspace', '--test', 'native', '--', '--nocapture'],
  },
  {
    name: 'wasmtime',
    runtimes: ['wasmtime'],
    cmd: 'cargo', args: ['test', '--workspace', '--test', 'conformance', '--', '--nocapture'],
  },
  {
    name: 'js',
    // Each place through `phylax/authoring`, then through the `phylax` and `phylax/crypto` entries.
    runtimes: ['node', 'edge-runtime', 'workerd', 'chromium'].flatMap((p) => [p, `${p}.phylax`, `${p}.phylax-crypto`]),
    cmd: process.execPath,
    args: [join(root, 'js', 'test', 'cases.mjs'), 'all',
      ...(process.env.PHYLAX_CONFORMANCE_CASES ? ['--cases', process.env.PHYLAX_CONFORMANCE_CASES] : [])],
    cwd: join(root, 'js'),
  },
];

const LINE = /conformance ([\w.-]+): (\d+) passed, (\d+) failed/;

function usage(message) {
  console.error(`${message}\nusage: node conformance/run.mjs [${RUNNERS.map((r) => r.name).join('|')}]...`);
  process.exit(2);
}

const only = process.argv.slice(2);
for (const arg of only) if (!RUNNERS.some((r) => r.name === arg)) usage(`unknown runner \`${arg}\``);
const selected = RUNNERS.filter((r) => only.length === 0 || only.includes(r.name));

if (selected.some((r) => r.name === 'js')) {
  const dist = join(root, 'js', 'dist');
  if (!existsSync(join(dist, 'wasm', 'phylax_bg.wasm')) || !existsSync(join(dist, 'node.js'))) {
    console.error(`conformance: the npm package is not built (${dist} is missing or incomplete).`);
    console.error('Build it first: cd js && npm ci && node scripts/build.mjs   (this script does not rebuild it)');
    process.exit(2);
  }
}

/** Runs one runner, its output streamed through and scanned (stdout and stderr) for result lines. */
function run({ cmd, args, cwd = root }) {
  return new Promise((resolve) => {
    console.log(`\n$ ${cmd === process.execPath ? 'node' : cmd} ${args.map((a) => a.replace(root + '/', '')).join(' ')}`);
    const lines = [];
    const child = spawn(cmd, args, { cwd, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const pending = [];
    for (const [i, stream, out] of [[0, child.stdout, process.stdout], [1, child.stderr, process.stderr]]) {
      pending[i] = '';
      stream.on('data', (chunk) => {
        out.write(chunk);
        pending[i] += chunk.toString('utf8');
        const parts = pending[i].split('\n');
        pending[i] = parts.pop();
        lines.push(...parts);
      });
    }
    child.on('error', (err) => resolve({ code: null, lines, error: err.message }));
    child.on('close', (code, signal) => {
      lines.push(...pending.filter(Boolean));
      resolve({ code, signal, lines });
    });
  });
}

const summary = [];
const started = Date.now();
for (const runner of selected) {
  const { code, signal, lines, error } = await run(runner);
  const found = new Map();
  for (const line of lines) {
    const m = line.match(LINE);
    if (m) found.set(m[1], { passed: Number(m[2]), failed: Number(m[3]) });
  }
  const how = error ? `could not start: ${error}` : signal ? `killed by ${signal}` : `exited ${code}`;
  for (const runtime of new Set([...runner.runtimes, ...found.keys()])) {
    const result = found.get(runtime);
    if (!result) {
      summary.push({ runtime, ok: false, text: `no result line (${runner.name} runner ${how})` });
    } else {
      const ok = result.failed === 0 && result.passed > 0 && code === 0;
      const note = result.failed === 0 && code !== 0 ? ` (${runner.name} runner ${how})` : '';
      summary.push({ runtime, ok, text: `${result.passed} passed, ${result.failed} failed${note}` });
    }
  }
}

console.log('\nconformance summary');
for (const { runtime, ok, text } of summary) console.log(`${ok ? 'ok  ' : 'FAIL'} ${runtime.padEnd(36)} ${text}`);
const allOk = summary.length > 0 && summary.every((s) => s.ok);
console.log(`${allOk ? 'all runtimes agree with the cases' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
process.exit(allOk ? 0 : 1);

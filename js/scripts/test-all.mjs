// Runs every test of the package, runtime by runtime, and prints one line per runtime:
//   node scripts/test-all.mjs          (from js/, after `node scripts/build.mjs`)
// Each runtime is a `node --test` run (its output streams through, closing lines
// included); the summary counts come from its TAP stream. Exits non-zero on any failure.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const js = dirname(dirname(fileURLToPath(import.meta.url)));
const RUNTIMES = [
  ['node', ['test/node.test.mjs']],
  ['edge-runtime', ['test/edge.test.mjs']],
  ['workerd', ['test/workerd.test.mjs']],
  ['chromium', ['test/chromium.test.mjs']],
  ['packaging', ['test/packaging.test.mjs']],
  ['entries', ['test/entries.test.mjs']],
  ['examples', ['test/examples.test.mjs']],
  ['readme', ['test/readme.test.mjs']],
];

if (!existsSync(join(js, 'dist', 'wasm', 'phylax_bg.wasm'))) {
  console.error('dist/ is missing: run `node scripts/build.mjs` first');
  process.exit(2);
}

const only = process.argv.slice(2);
const tap = mkdtempSync(join(tmpdir(), 'phylax-tap-'));
const summary = [];
const started = Date.now();

for (const [name, files] of RUNTIMES.filter(([n]) => only.length === 0 || only.includes(n))) {
  const out = join(tap, `${name}.tap`);
  const t0 = Date.now();
  const code = await new Promise((resolve) => {
    const child = spawn(process.execPath, [
      '--test', '--test-concurrency=1',
      '--test-reporter=spec', '--test-reporter-destination=stdout',
      '--test-reporter=tap', `--test-reporter-destination=${out}`,
      ...files,
    ], { cwd: js, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('exit', (c, signal) => resolve(signal ? 1 : c));
  });
  const text = existsSync(out) ? readFileSync(out, 'utf8') : '';
  const count = (key) => Number(text.match(new RegExp(`^# ${key} (\\d+)$`, 'm'))?.[1] ?? 0);
  const passed = count('pass');
  const failed = count('fail') + count('cancelled');
  const ok = code === 0 && failed === 0 && passed > 0;
  summary.push({ name, passed, failed, ok, seconds: (Date.now() - t0) / 1000 });
}
rmSync(tap, { recursive: true, force: true });

console.log('\nphylax js tests');
for (const { name, passed, failed, ok, seconds } of summary) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name.padEnd(13)} ${String(passed).padStart(4)} passed, ${failed} failed  (${seconds.toFixed(1)} s)`);
}
const allOk = summary.length > 0 && summary.every((s) => s.ok);
console.log(`${allOk ? 'all passed' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
process.exit(allOk ? 0 : 1);

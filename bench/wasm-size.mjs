// Where the shipped module's bytes go: the npm package's `.wasm`, built again with its
// function names kept (same profile, same wasm-bindgen and wasm-opt -Oz, plus `-g`), is
// read with twiggy; every item's size is attributed to the crate its name says, and
// rolled up. Part of `bench/run` (area `size`); writes `wasm-size.json`.
//
// Usage: node bench/wasm-size.mjs --json FILE
// Needs twiggy (bench/run installs 0.8.0 into ~/.cache/phylax/tools) and wasm-bindgen.
// The named build has its own target dir ($CARGO_TARGET_DIR/size-profile), so the warm
// shipped build is left alone; a cold one takes minutes.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const args = process.argv.slice(2);
const jsonAt = args.indexOf('--json');
const out = jsonAt >= 0 ? args[jsonAt + 1] : undefined;
const target = process.env.CARGO_TARGET_DIR ?? join(homedir(), '.cache', 'phylax', 'target');
const tools = join(homedir(), '.cache', 'phylax', 'tools', 'bin');
const tool = (name) => (existsSync(join(tools, name)) ? join(tools, name) : name);
const run = (cmd, argv, env = {}) => execFileSync(cmd, argv, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 30 });

const shipped = join(root, 'js', 'dist', 'wasm', 'phylax_bg.wasm');
if (!existsSync(shipped)) throw new Error('js/dist is missing: build the npm package first');

// 1. The same build with names kept (strip off), in its own target dir.
const sizeTarget = join(target, 'size-profile');
run('cargo', ['build', '-p', 'phylax-wasm', '--target', 'wasm32-unknown-unknown', '--profile', 'wasm-release', '--locked'], {
  CARGO_TARGET_DIR: sizeTarget, CARGO_PROFILE_WASM_RELEASE_STRIP: 'false',
});
const work = mkdtempSync(join(tmpdir(), 'phylax-size-'));
try {
  run(tool('wasm-bindgen'), ['--target', 'web', '--out-dir', work, '--out-name', 'phylax', '--weak-refs',
    join(sizeTarget, 'wasm32-unknown-unknown', 'wasm-release', 'phylax_wasm.wasm')]);
  const named = join(work, 'phylax_bg.wasm');
  run(join(root, 'js', 'node_modules', '.bin', 'wasm-opt'), ['-Oz', '-g', '--enable-reference-types', '--enable-bulk-memory',
    '--enable-nontrapping-float-to-int', '--enable-sign-ext', '--enable-multivalue', '--enable-mutable-globals', named, '-o', named]);

  // 2. twiggy: every item with its shallow size.
  const items = JSON.parse(run(tool('twiggy'), ['top', '-n', '10000000', '-f', 'json', named]).toString('utf8'));

  // 3. Attribute each item to a crate by its (demangled) name.
  const lock = readFileSync(join(root, 'Cargo.lock'), 'utf8');
  const crates = new Set([...lock.matchAll(/^name = "([^"]+)"$/gm)].map((m) => m[1].replace(/-/g, '_')));
  for (const std of ['core', 'alloc', 'std']) crates.add(std);
  const STD = new Set(['core', 'alloc', 'std']);
  const crateOf = (name) => {
    if (/^data segment|^data\[\d+\]$/.test(name)) return '(data segments: string literals, tables)';
    if (/^custom section/.test(name)) return '(custom sections)';
    if (/^(__wbg|__wbindgen|wasm_bindgen)|( multivalue| externref)? shim$/.test(name)) return 'wasm_bindgen';
    if (/^(code|table|elem|type|import|export|global|custom)\[|^"|section/i.test(name)) return '(wasm sections and headers)';
    // The first crate named that is not the standard library owns it (a generic of
    // core over a Cedar type is Cedar's); else the standard library.
    const named = [...name.matchAll(/([A-Za-z_][A-Za-z0-9_]*)::/g)].map((m) => m[1]).filter((c) => crates.has(c));
    return named.find((c) => !STD.has(c)) ?? named[0] ?? '(unnamed)';
  };
  const byCrate = new Map();
  let total = 0;
  // The names themselves (the `name` custom section) are what this build adds to the
  // shipped module: left out of the profile.
  let names = 0;
  for (const item of items.items ?? items) {
    const size = item.shallow_size ?? item.shallowSize ?? 0;
    if (/^custom section '\.?name'|names" subsection$/.test(item.name)) {
      names += size;
      continue;
    }
    total += size;
    const crate = crateOf(item.name);
    const entry = byCrate.get(crate) ?? { crate, bytes: 0, items: 0, largest: [] };
    entry.bytes += size;
    entry.items += 1;
    entry.largest.push({ name: item.name, bytes: size });
    byCrate.set(crate, entry);
  }
  const rows = [...byCrate.values()].sort((a, b) => b.bytes - a.bytes).map((e) => ({
    ...e, largest: e.largest.sort((a, b) => b.bytes - a.bytes).slice(0, 3),
  }));
  const shippedBytes = readFileSync(shipped);
  const result = {
    shipped: { bytes: statSync(shipped).size, gzip: gzipSync(shippedBytes, { level: 9 }).length },
    named: { bytes: statSync(named).size, names, profiled: total },
    crates: rows,
  };
  for (const r of rows.slice(0, 25)) {
    console.log(`${r.crate.padEnd(44)} ${String(r.bytes).padStart(9)} B  ${((100 * r.bytes) / total).toFixed(1).padStart(5)}%`);
  }
  console.log(`profiled ${total} B of ${result.named.bytes} B (named build); shipped ${result.shipped.bytes} B, ${result.shipped.gzip} B gzip -9`);
  if (out) writeFileSync(out, JSON.stringify(result, null, 2));
} finally {
  rmSync(work, { recursive: true, force: true });
}

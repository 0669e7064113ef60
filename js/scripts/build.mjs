// Builds the npm package: the Rust core to wasm32, wasm-bindgen glue, wasm-opt, then tsc.
// Usage: node scripts/build.mjs              (from js/; the test command runs it)
//        node scripts/build.mjs --ts-only    (only tsc, reusing the glue already in src/wasm/)
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';

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
const glue = join(js, 'src', 'wasm');
const wasm = join(glue, 'phylax_bg.wasm');

if (tsOnly) {
  if (!existsSync(wasm)) throw new Error(`--ts-only needs the wasm-bindgen output in ${glue}: run a full build once`);
} else {
  buildWasm();
}

/** Steps 1-3: the core to wasm32, the wasm-bindgen glue into src/wasm/, wasm-opt. */
function buildWasm() {
  // 1. The core, compiled for the web.
  const profile = 'wasm-release';
  run('cargo', ['build', '-p', 'phylax-wasm', '--target', 'wasm32-unknown-unknown', '--profile', profile, '--locked']);
  const raw = join(target, 'wasm32-unknown-unknown', profile, 'phylax_wasm.wasm');

  // 2. JS glue. `--target web` gives an init that takes a URL, bytes or a compiled Module.
  rmSync(glue, { recursive: true, force: true });
  run(which('wasm-bindgen'), ['--target', 'web', '--out-dir', glue, '--out-name', 'phylax', '--weak-refs', raw]);

  // 3. Size: wasm-opt from npm binaryen (Debian's 108 breaks wasm-bindgen's output).
  run(join(js, 'node_modules', '.bin', 'wasm-opt'), [
    '-Oz', '--enable-reference-types', '--enable-bulk-memory', '--enable-nontrapping-float-to-int',
    '--enable-sign-ext', '--enable-multivalue', '--enable-mutable-globals', wasm, '-o', wasm,
  ]);
}

// 4. TypeScript, then the glue beside it.
const dist = join(js, 'dist');
rmSync(dist, { recursive: true, force: true });
run(join(js, 'node_modules', '.bin', 'tsc'), ['-p', join(js, 'tsconfig.json')]);
mkdirSync(join(dist, 'wasm'), { recursive: true });
for (const file of readdirSync(glue)) copyFileSync(join(glue, file), join(dist, 'wasm', file));

const bytes = readFileSync(wasm);
console.log(`phylax_bg.wasm: ${statSync(wasm).size} bytes, ${gzipSync(bytes, { level: 9 }).length} gzipped`);

// Builds the console into dist/: the bundled app, its stylesheet, its page, the package's
// WebAssembly module, and a gzip -9 sibling of each large asset (served with
// Content-Encoding: gzip when accepted). Type-checks first. Output is deterministic:
// dist/ is rebuilt from nothing, esbuild's output depends only on its input, and gzip
// headers carry no timestamp.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { constants, gzipSync } from 'node:zlib';

const root = dirname(fileURLToPath(import.meta.url));
const src = join(root, 'src');
const dist = join(root, 'dist');
const assets = join(dist, 'assets');

// 1. Types (strict), without emitting anything.
const require = createRequire(import.meta.url);
try {
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '--noEmit', '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });
} catch {
  console.error('build.mjs: the type check failed (above)');
  process.exit(1);
}

// 2. A fresh dist/ (its tracked `.keep` stays, so a clone has the directory the server embeds).
mkdirSync(dist, { recursive: true });
for (const entry of readdirSync(dist)) {
  if (entry !== '.keep') rmSync(join(dist, entry), { recursive: true, force: true });
}
mkdirSync(join(assets, 'wasm'), { recursive: true });

// 3. The app: one ES module. `new URL('./wasm/phylax_bg.wasm', import.meta.url)` stays
// as written, so it resolves beside console.js: /console/assets/wasm/phylax_bg.wasm.
await build({
  entryPoints: [join(src, 'main.ts')],
  outfile: join(assets, 'console.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  sourcemap: false,
  legalComments: 'none',
  charset: 'utf8',
  logLevel: 'warning',
});

// 4. The page, the stylesheet and the package's module (resolved through the package).
copyFileSync(join(src, 'index.html'), join(dist, 'index.html'));
copyFileSync(join(src, 'console.css'), join(assets, 'console.css'));
const wasm = fileURLToPath(import.meta.resolve('phylax/authoring.wasm'));
copyFileSync(wasm, join(assets, 'wasm', 'phylax_bg.wasm'));

// 5. gzip -9 siblings (Node's gzip writes mtime 0: the same bytes every build).
for (const file of [join(assets, 'console.js'), join(assets, 'console.css'), join(assets, 'wasm', 'phylax_bg.wasm')]) {
  writeFileSync(`${file}.gz`, gzipSync(readFileSync(file), { level: constants.Z_BEST_COMPRESSION }));
}

for (const file of ['index.html', 'assets/console.js', 'assets/console.js.gz', 'assets/console.css', 'assets/console.css.gz', 'assets/wasm/phylax_bg.wasm', 'assets/wasm/phylax_bg.wasm.gz']) {
  console.log(`${relative(root, join(dist, file)).padEnd(36)} ${statSync(join(dist, file)).size.toLocaleString('en')} bytes`);
}

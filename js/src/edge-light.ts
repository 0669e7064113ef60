/** Vercel Edge entry: the bundler turns `?module` imports into a compiled WebAssembly.Module. */
import wasm from './wasm/phylax_bg.wasm?module';
import { initPhylaxSync } from './runtime.js';

initPhylaxSync(wasm);

export * from './api.js';

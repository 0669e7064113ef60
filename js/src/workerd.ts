/** Cloudflare Workers entry: wrangler imports `.wasm` as a compiled WebAssembly.Module. */
import wasm from './wasm/phylax_bg.wasm';
import { initPhylaxSync } from './runtime.js';

initPhylaxSync(wasm);

export * from './api.js';

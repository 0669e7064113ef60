/**
 * `phylax/init`: the API without loading the module. For runtimes that forbid compiling
 * WebAssembly from bytes (Vercel Edge, Cloudflare Workers) pass the precompiled module:
 *
 *   import wasm from 'phylax/phylax.wasm?module';   // Vercel Edge
 *   import { initPhylaxSync, Engine } from 'phylax/init';
 *   initPhylaxSync(wasm);
 */
export * from './api.js';

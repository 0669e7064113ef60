/** Node entry: loads the module from the package synchronously on import. */
import { readFileSync } from 'node:fs';
import { initPhylaxSync } from './runtime.js';

initPhylaxSync(readFileSync(new URL('./wasm/phylax_bg.wasm', import.meta.url)));

export * from './api.js';

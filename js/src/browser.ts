/** Browser (and default) entry: fetches and instantiates the module beside this file. */
import { initPhylax } from './runtime.js';

await initPhylax(new URL('./wasm/phylax_bg.wasm', import.meta.url));

export * from './api.js';

/**
 * Loading the WebAssembly module. Every entry (node, browser, edge-light, workerd,
 * init) ends in one of these two calls; the API throws `init.not_ready` before.
 */
import initAsync, { initSync } from './wasm/phylax.js';
import { PhylaxError } from './errors.js';

let ready = false;

/** What the module can be loaded from. */
export type WasmSource = WebAssembly.Module | BufferSource | URL | Response | Promise<Response>;

/** Instantiates from a precompiled `WebAssembly.Module` (edge runtimes) or bytes. */
export function initPhylaxSync(module: WebAssembly.Module | BufferSource): void {
  if (ready) return;
  initSync({ module });
  ready = true;
}

/** Instantiates from a module, bytes, a URL or a fetch Response. */
export async function initPhylax(source: WasmSource): Promise<void> {
  if (ready) return;
  await initAsync({ module_or_path: source });
  ready = true;
}

export function isReady(): boolean {
  return ready;
}

export function need(): void {
  if (!ready) {
    throw new PhylaxError('init.not_ready', 'the phylax WebAssembly module is not loaded yet', 'import `phylax` (which loads it) or call `initPhylax` / `initPhylaxSync` from `phylax/init` first');
  }
}

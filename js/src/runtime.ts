/**
 * Loading the WebAssembly module. Every entry (node, browser, edge-light, workerd,
 * init) ends in one of these two calls; the API throws `init.not_ready` before.
 *
 * The instance can be replaced: after a trap (`errors.ts`, `call`) it is discarded and a
 * fresh one is made from the same compiled module, and the *epoch* moves on, so objects
 * made on the old instance refuse further use instead of reading the new one's memory.
 */
import initAsync, { initSync, __phylax_discard } from './wasm/phylax.js';
import { PhylaxError, setTrapHandler } from './errors.js';

let ready = false;
let epoch = 0;

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

/** The current instance's epoch: an object remembers it when made. */
export function currentEpoch(): number {
  return epoch;
}

/** Throws unless an object made in `made` still belongs to the current instance. */
export function alive(made: number): void {
  if (made !== epoch) {
    throw new PhylaxError('internal.instance_discarded', 'this object belonged to a WebAssembly instance that was discarded after a trap', 'create the object again (Engine.fromParts, Keyring.open, ...)');
  }
}

// After a trap: forget the instance (the glue's finalizers of its objects become no-ops)
// and make a fresh one from the same compiled module, instantiated, not compiled again,
// so this works where compiling from bytes is forbidden (edge runtimes).
setTrapHandler(() => {
  const module = __phylax_discard();
  epoch += 1;
  if (module !== undefined) initSync({ module });
});

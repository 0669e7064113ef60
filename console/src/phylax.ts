/**
 * The phylax package, loaded on first use: its WebAssembly module (4+ MB) is fetched only
 * by the pages that decide or validate in the browser. The URL resolves beside the
 * bundle: /console/assets/wasm/phylax_bg.wasm. The policies page validates drafts and
 * builds engines from them, so this is `phylax/authoring` (the runtime entry `phylax`
 * only loads signed bundles).
 */
import * as phylax from 'phylax/authoring/init';

let loading: Promise<typeof phylax> | null = null;

export function loadPhylax(): Promise<typeof phylax> {
  if (!loading) {
    loading = phylax.initPhylax(new URL('./wasm/phylax_bg.wasm', import.meta.url)).then(() => phylax);
    loading.catch(() => { loading = null; });
  }
  return loading;
}

export type { Decision, Engine, PolicyFile, SignedBundle } from 'phylax/authoring/init';

// Where this code runs. `typeof EdgeRuntime` is what Next compiled the file for (it defines
// `EdgeRuntime` in edge bundles only); `globalThis.EdgeRuntime` is set by the edge sandbox
// itself at run time (`next start` runs edge code in Vercel's edge-runtime VM).
declare const EdgeRuntime: string | undefined;

export function runtimeHeaders(): Record<string, string> {
  return {
    'x-phylax-runtime': typeof EdgeRuntime === 'string' ? 'edge' : 'nodejs',
    'x-phylax-edge-global': String((globalThis as { EdgeRuntime?: unknown }).EdgeRuntime ?? 'none'),
  };
}

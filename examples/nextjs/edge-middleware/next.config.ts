import path from 'node:path';
import type { NextConfig } from 'next';

// `phylax` is a `file:` dependency: node_modules/phylax links to the repository's js/
// package, outside this app, and the shared code lives in ../shared. Both bundlers and the
// output file tracing must see the repository root.
const root = path.join(__dirname, '..', '..', '..');

const nextConfig: NextConfig = {
  turbopack: { root },
  outputFileTracingRoot: root,
};

export default nextConfig;

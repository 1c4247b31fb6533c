// Bundles the server into dist/server.js for `npm start` and the browser tests (part of `npm run build`).
// Why: Node 24 resolving drizzle-orm's hundreds of ES modules leaves ~130 MB of freed-but-kept
// heap in RSS (measured: importing drizzle-orm/sqlite-core alone +198 MB RSS, 1.5 MB live after GC).
// One bundled file loads without that, and without type stripping at start-up.
import fs from 'node:fs';
import { build } from 'rolldown';

await build({
  // The WAL checkpoint worker is a file of its own: a worker thread loads it by path.
  input: { server: 'server/main.ts', 'checkpoint-worker': 'server/store/checkpoint-worker.ts' },
  platform: 'node',
  // Native addon: loaded from node_modules at run time. The password estimator's dictionaries
  // too: they are imported only on the first password check (dynamic import, no chunk to split).
  external: [/^node:/, 'better-sqlite3', /^@zxcvbn-ts\//],
  output: { dir: 'dist', entryFileNames: '[name].js', format: 'esm', sourcemap: true },
  logLevel: 'warn',
});
console.log('server bundled into dist/server.js (and dist/checkpoint-worker.js)');

// The CLI: one file, the package's `bin` (`npx stagecoach`), runnable without type
// stripping or node_modules beyond what it bundles (openapi-fetch).
await build({
  input: { cli: 'cli/main.ts' },
  platform: 'node',
  external: [/^node:/],
  output: {
    dir: 'dist',
    entryFileNames: '[name].js',
    format: 'esm',
    banner: '#!/usr/bin/env node',
  },
  logLevel: 'warn',
});
fs.chmodSync('dist/cli.js', 0o755);
console.log('CLI bundled into dist/cli.js');

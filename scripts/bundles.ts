// The server and CLI bundles: `npm run build` writes them into dist/ (scripts/build-server.ts), and
// the Vitest run into a folder of its own (test/helpers/bundle-global-setup.ts), so the processes
// the tests start load what `npm start` loads, in a fifth of the time.
import fs from 'node:fs';
import path from 'node:path';
import { build } from 'rolldown';

/**
 * server/main.ts into `<dir>/server.js`, and each of `also` (name: entry file) beside it. `dir` is
 * a folder directly in the repository, as dist/ is: the bundle finds the migrations and the web
 * build one folder up.
 */
export async function bundleServer(dir: string, also: Record<string, string> = {}): Promise<void> {
  await build({
    // The WAL checkpoint worker is a file of its own: a worker thread loads it by path.
    input: {
      server: 'server/main.ts',
      'checkpoint-worker': 'server/store/checkpoint-worker.ts',
      ...also,
    },
    platform: 'node',
    // Native addon: loaded from node_modules at run time. The password estimator's dictionaries
    // too: they are imported only on the first password check (dynamic import, no chunk to split).
    external: [/^node:/, 'better-sqlite3', /^@zxcvbn-ts\//],
    output: { dir, entryFileNames: '[name].js', format: 'esm', sourcemap: true },
    logLevel: 'warn',
  });
}

/**
 * The CLI into `<dir>/cli.js`: one file, the package's `bin` (`npx stagecoach`), runnable without
 * type stripping or node_modules beyond what it bundles (openapi-fetch).
 */
export async function bundleCli(dir: string): Promise<void> {
  await build({
    input: { cli: 'cli/main.ts' },
    platform: 'node',
    external: [/^node:/],
    output: {
      dir,
      entryFileNames: '[name].js',
      format: 'esm',
      banner: '#!/usr/bin/env node',
    },
    logLevel: 'warn',
  });
  fs.chmodSync(path.join(dir, 'cli.js'), 0o755);
}

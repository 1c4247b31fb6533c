import fs from 'node:fs';
import type { TestProject } from 'vitest/node';
import { bundleCli, bundleServer } from '../../scripts/bundles.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The folder of this run's bundles: server.js, cli.js, migrate-to-postgres.js. */
    bundles: string;
  }
}

/**
 * The processes tests start (servers, the CLI, the PostgreSQL copy) run bundles of the source made
 * once per run, as `npm start` runs dist/server.js: a server took 2.3 s to start from the source
 * files (Node reading package.json scopes for ~1,500 modules) and 0.45 s from its bundle. The
 * folder sits in the repository, as dist/ does (the bundle finds the migrations one folder up),
 * one per run so two runs never share one; removed after the run.
 */
export default async function setup(project: TestProject): Promise<() => void> {
  const dir = `.test-bundles-${process.pid}`;
  fs.rmSync(dir, { recursive: true, force: true });
  await bundleServer(dir, { 'migrate-to-postgres': 'scripts/migrate-to-postgres.ts' });
  await bundleCli(dir);
  project.provide('bundles', dir);
  return () => fs.rmSync(dir, { recursive: true, force: true });
}

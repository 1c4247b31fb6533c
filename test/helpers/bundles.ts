import path from 'node:path';
import { inject } from 'vitest';

/** The file a test's child process runs: this run's bundle of `name` (test/helpers/bundle-global-setup.ts). */
export const bundled = (name: 'server' | 'cli' | 'migrate-to-postgres'): string =>
  path.join(inject('bundles'), `${name}.js`);

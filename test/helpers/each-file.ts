import { afterAll } from 'vitest';
import { killClusterNodes } from './cluster.ts';
import { dropFileDatabases } from './dialect.ts';
import { removeThrowawayPostgres } from './postgres.ts';
import { killThrowawayRedis } from './redis.ts';

/**
 * Run before every test file (Vitest `setupFiles`): what a file leaves when it ends without its
 * own cleanup (a failed or timed-out test) goes with it — processes, throwaway servers, the
 * file's databases. A setup file, not each helper's module, registers this: files share a
 * worker's modules (`isolate: false`), so a hook registered at import ran after the first file only.
 */
afterAll(async () => {
  killClusterNodes();
  killThrowawayRedis();
  removeThrowawayPostgres();
  await dropFileDatabases();
});

import { describe, expect, it } from 'vitest';
import { ConfigError } from '#server/config.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { postgresAndRedisPerFile } from '../helpers/pg-redis-per-file.ts';
import { onPostgres, startTestServer, tempDataDir, testServer } from '../helpers/server.ts';

const services = postgresAndRedisPerFile();
const cleanup = cleanupAfterEach();

describe('PG-59: one running process per NODE_ID', () => {
  it('PG-59 a second process given a NODE_ID a running one has is refused at start, naming the key; another NODE_ID starts beside it; once the first stopped, the NODE_ID starts again', async () => {
    const env = (nodeId: string, extra: Record<string, string> = {}) => ({
      ...onPostgres(services.postgres.url, services.redis.url),
      NODE_ID: nodeId,
      ...extra,
    });
    const first = await startTestServer(tempDataDir(), env('n1'));
    let stopped = false;
    cleanup.push(() => (stopped ? undefined : first.close()));

    const refused = await startTestServer(
      tempDataDir(),
      env('n1', { NODE_ID_WAIT_MS: '300' }),
    ).then(
      async (s) => {
        await s.close();
        return null;
      },
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(ConfigError);
    expect((refused as ConfigError).message).toContain(
      'NODE_ID=n1: another process running on this database has it',
    );

    const other = await testServer(cleanup, env('n2'));
    expect((await fetch(`${other.url}/api/health`)).status).toBe(200);

    await first.close();
    stopped = true;
    const again = await testServer(cleanup, env('n1', { NODE_ID_WAIT_MS: '300' }));
    expect((await fetch(`${again.url}/api/health`)).status).toBe(200);
  });
});

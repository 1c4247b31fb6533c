import { afterAll, beforeAll } from 'vitest';
import { startPostgres, type ThrowawayPostgres } from './postgres.ts';
import { startRedis, type ThrowawayRedis } from './redis.ts';

/**
 * One throwaway PostgreSQL and one Redis for a whole test file: started before its first test,
 * stopped after its last. Read them inside tests (they exist once the file's beforeAll ran).
 */
export function postgresAndRedisPerFile(): { postgres: ThrowawayPostgres; redis: ThrowawayRedis } {
  const shared: (() => unknown)[] = [];
  let postgres: ThrowawayPostgres | undefined;
  let redis: ThrowawayRedis | undefined;
  beforeAll(async () => {
    postgres = await startPostgres(shared);
    redis = await startRedis(shared);
  }, 60_000);
  afterAll(async () => {
    for (const f of shared.splice(0).reverse()) await f();
  });
  return {
    get postgres() {
      return postgres!;
    },
    get redis() {
      return redis!;
    },
  };
}

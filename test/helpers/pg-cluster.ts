import { randomBytes } from 'node:crypto';
import { openPostgres } from '#server/store/pg/db.ts';
import { verifyChains } from '#server/store/pg/verify-copy.ts';

/**
 * What every node of a cluster on PostgreSQL and Redis gets (README "Running several processes"):
 * one DATABASE_URL, one REDIS_URL, one SECRETS_KEY and CLUSTER_SECRET for all of them, and
 * TRUST_PROXY as behind a balancer (the sign-in limits then count the X-Forwarded-For address).
 * startCluster adds each node's NODE_ID and INTERNAL_URL.
 */
export function pgClusterEnv(databaseUrl: string, redisUrl: string): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    SECRETS_KEY: randomBytes(32).toString('base64'),
    PUBLIC_URL: 'http://stagecoach.test',
    CLUSTER_SECRET: randomBytes(36).toString('base64'),
    TRUST_PROXY: 'true',
  };
}

/**
 * Every release chain and the audit chain of the database at `url`, verified from PostgreSQL's
 * rows (`verifyChains`, as `migrate-to-postgres` verifies a copy): the problems found (none when
 * whole) and how much was read.
 */
export async function chainsOf(url: string) {
  const pgx = await openPostgres(url, { max: 1, log: () => {} });
  try {
    const problems: string[] = [];
    const read = await verifyChains(pgx.db(), (p) => problems.push(p));
    return { problems, ...read };
  } finally {
    await pgx.close();
  }
}

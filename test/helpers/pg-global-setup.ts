import type { TestProject } from 'vitest/node';
import pg from 'pg';
import { openPostgres } from '#server/store/pg/db.ts';
import { startPostgres } from './postgres.ts';
import { startRedis } from './redis.ts';

/**
 * The `postgres` project's one PostgreSQL and one Redis (PG-160), started before its first file
 * and stopped after its last: a database migrated once (`stagecoach_template`) that every test
 * server's database is copied from (test/helpers/dialect.ts), and the Redis all servers share.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const cleanup: (() => unknown)[] = [];
  const teardown = async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  };
  try {
    const postgres = await startPostgres(cleanup, { maxConnections: 400 });
    const redis = await startRedis(cleanup);
    const template = 'stagecoach_template';
    const admin = new pg.Client({ connectionString: postgres.url });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${template}`);
    await admin.end();
    const base = postgres.url.replace(/\/postgres$/, '');
    await (await openPostgres(`${base}/${template}`, { max: 1, log: () => {} })).close();
    project.provide('postgresUrl', postgres.url);
    project.provide('postgresTemplate', template);
    project.provide('redisUrl', redis.url);
  } catch (e) {
    await teardown();
    throw e;
  }
  return teardown;
}

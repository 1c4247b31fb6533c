import { AsyncLocalStorage } from 'node:async_hooks';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { drizzle, type NodePgQueryResultHKT } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import type { PgDatabase } from 'drizzle-orm/pg-core';
import * as tables from '#schema/db/pg-tables.ts';
import type { Transactor } from '../port.ts';

/** A drizzle PostgreSQL database or a transaction on it (every query a store runs goes to one). */
export type PgDb = PgDatabase<NodePgQueryResultHKT, typeof tables>;

/** PostgreSQL as the stores see it (PG-11). */
export interface Postgres extends Transactor {
  /** Where a query runs now: the transaction of the surrounding `atomically`, else the pool. */
  db(): PgDb;
  /** Whether the caller runs inside `atomically`. */
  inTransaction(): boolean;
  readonly pool: pg.Pool;
  close(): Promise<void>;
}

const here = path.dirname(fileURLToPath(import.meta.url));
// From source this file is server/store/pg/; in the bundle (dist/server.js) the repository root is one up.
export const pgMigrationsFolder = [
  path.join(here, '..', 'pg-migrations'),
  path.join(here, '..', 'server', 'store', 'pg-migrations'),
].find((p) => fs.existsSync(p))!;

/**
 * The advisory lock key migrations run under (PG-12): drizzle's `migrate()` takes no lock, and
 * several processes start at once. Any 64-bit number; this one spells "stagecoa" in ASCII.
 */
const MIGRATION_LOCK = 0x73746167_65636f61n;

/** Applies server/store/pg-migrations once, whoever else starts at the same moment (PG-12). */
export async function migratePostgres(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK.toString()]);
    try {
      await migrate(drizzle({ client }), { migrationsFolder: pgMigrationsFolder });
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK.toString()]);
    }
  } finally {
    client.release();
  }
}

/**
 * Connects to `url`, migrates under the lock, and gives the stores their connection: the pool,
 * or inside `atomically` the one transaction (found through AsyncLocalStorage, so store methods
 * called inside a domain transaction join it without passing it along).
 */
export async function openPostgres(
  url: string,
  opts: { max?: number; log?: (msg: string) => void } = {},
): Promise<Postgres> {
  const log = opts.log ?? console.error;
  const pool = new pg.Pool({ connectionString: url, max: opts.max ?? 10 });
  // An idle client whose server went away emits 'error'; unhandled it would end the process.
  pool.on('error', (err) => log(`postgres: idle connection failed: ${err.message}`));
  await migratePostgres(pool);
  const root: PgDb = drizzle({ client: pool, schema: tables });
  const scope = new AsyncLocalStorage<PgDb>();
  return {
    pool,
    db: () => scope.getStore() ?? root,
    inTransaction: () => scope.getStore() !== undefined,
    atomically<T>(fn: () => Promise<T>): Promise<T> {
      if (scope.getStore()) return fn();
      return root.transaction((tx) => scope.run(tx, fn));
    },
    close: () => pool.end(),
  };
}

import { AsyncLocalStorage } from 'node:async_hooks';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { drizzle, type NodePgQueryResultHKT } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import type { PgDatabase } from 'drizzle-orm/pg-core';
import * as tables from '#schema/db/pg-tables.ts';
import { retryable, type Transactor } from '../port.ts';
import { LOCK } from './locks.ts';

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

/** Applies server/store/pg-migrations once, whoever else starts at the same moment (PG-12). */
export async function migratePostgres(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    // Waiting for another process's migrations may take longer than a request's lock wait.
    await client.query('SET lock_timeout = 0');
    await client.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [LOCK.migrations]);
    try {
      await migrate(drizzle({ client }), { migrationsFolder: pgMigrationsFolder });
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [LOCK.migrations]);
    }
    await client.query('RESET lock_timeout');
  } finally {
    client.release();
  }
}

/**
 * Waits a domain transaction may not exceed (PG-184), set on each session of the server's domain
 * pool: a lock (the ledger lock, a row) not had within `lock_timeout` fails the statement (55P03,
 * answered 503 storage_unavailable, nothing changed), so a convoy behind one slow holder frees its
 * connections; a session idle inside a transaction for `idle_in_transaction_session_timeout` (a
 * process paused or hung while holding the ledger lock) is ended by PostgreSQL, which releases its
 * locks, so it cannot stop every process's writes for as long as it is paused.
 */
export const LOCK_TIMEOUT_MS = 5000;
export const IDLE_IN_TRANSACTION_MS = 10_000;
const DOMAIN_SESSION = `-c lock_timeout=${LOCK_TIMEOUT_MS} -c idle_in_transaction_session_timeout=${IDLE_IN_TRANSACTION_MS}`;

/**
 * The `application_name` of a server's connections (PG-186): `npm run migrate-to-postgres` refuses
 * a target a server is connected to, since that server would write beside the copy.
 */
export const SERVER_APPLICATION_NAME = 'stagecoach';

function newPool(
  url: string,
  o: {
    name?: string;
    max: number;
    connectionTimeoutMillis: number;
    options?: string;
    log: (m: string) => void;
  },
): pg.Pool {
  const pool = new pg.Pool({
    ...(o.name ? { application_name: o.name } : {}),
    connectionString: url,
    max: o.max,
    connectionTimeoutMillis: o.connectionTimeoutMillis,
    ...(o.options ? { options: o.options } : {}),
  });
  // An idle client whose server went away emits 'error'; unhandled it would end the process.
  pool.on('error', (err) => o.log(`postgres: idle connection failed: ${err.message}`));
  return pool;
}

/** Connections of the owner pool (PG-184): renewals, takes and releases of leases, and appends. */
export const OWNER_POOL_SIZE = 3;

/**
 * The draft owner's own small pool (PG-184), beside the domain pool: lease renewals and the
 * fenced appends and compactions of live drafts run here, so domain transactions waiting on the
 * ledger lock (or any number of requests) cannot take the connections a lease needs to stay alive.
 * Its queries never join a domain transaction (`db()` is always the pool). A connection not had
 * within 1 s fails, well inside a renewal period (TTL / 3), so the next renewal tries again.
 */
export function openOwnerPool(url: string, log: (msg: string) => void): Postgres {
  const pool = newPool(url, {
    name: SERVER_APPLICATION_NAME,
    max: OWNER_POOL_SIZE,
    connectionTimeoutMillis: 1000,
    log,
  });
  const db: PgDb = drizzle({ client: pool, schema: tables });
  return {
    pool,
    db: () => db,
    inTransaction: () => false,
    atomically: () => {
      throw new Error('the owner pool runs no transactions');
    },
    close: () => pool.end(),
  };
}

/** How many times `atomically` runs a transaction that keeps failing with a retryable error (PG-15). */
export const TRANSACTION_ATTEMPTS = 5;

/** A few ms, growing with the attempt, jittered so two transactions that collided part ways. */
const backoffMs = (attempt: number) => (2 + Math.random() * 8) * 2 ** (attempt - 1);

/**
 * Connects to `url`, migrates under the lock, and gives the stores their connection: the pool,
 * or inside `atomically` the one transaction (found through AsyncLocalStorage, so store methods
 * called inside a domain transaction join it without passing it along).
 *
 * `atomically` runs its function again, whole, when the transaction failed with a deadlock or a
 * serialization failure (PG-15): a few times, after a short jittered wait, at the outermost call
 * only. So a transaction function must be retry-safe: it may touch nothing but the database
 * through the stores until it has returned (no messages sent, no caches filled, no events
 * published, no in-memory state changed before the commit), since a run that failed is undone
 * only in the database.
 */
export async function openPostgres(
  url: string,
  opts: { max?: number; log?: (msg: string) => void; bounded?: boolean; name?: string } = {},
): Promise<Postgres> {
  const log = opts.log ?? console.error;
  // A connection that cannot be had within 5 s fails the request (503) instead of hanging it.
  const pool = newPool(url, {
    ...(opts.name ? { name: opts.name } : {}),
    max: opts.max ?? 10,
    connectionTimeoutMillis: 5000,
    ...(opts.bounded ? { options: DOMAIN_SESSION } : {}),
    log,
  });
  await migratePostgres(pool);
  const root: PgDb = drizzle({ client: pool, schema: tables });
  // The transaction a call runs in. A timer or callback started inside one inherits this scope
  // after the transaction ended: `open` turns false at its end, and such late calls use the pool.
  const scope = new AsyncLocalStorage<{ tx: PgDb; open: boolean }>();
  const current = () => {
    const s = scope.getStore();
    return s?.open ? s : undefined;
  };
  const within = async <T>(tx: PgDb, fn: () => Promise<T>): Promise<T> => {
    const entry = { tx, open: true };
    try {
      return await scope.run(entry, fn);
    } finally {
      entry.open = false;
    }
  };
  return {
    pool,
    db: () => current()?.tx ?? root,
    inTransaction: () => current() !== undefined,
    async atomically<T>(fn: () => Promise<T>): Promise<T> {
      // A nested call is a savepoint, as on SQLite: a nested function that throws undoes only its
      // own writes, and the caller may catch and go on (REV-77). Only the outermost call retries.
      const outer = current();
      if (outer) return outer.tx.transaction((tx) => within(tx, fn));
      for (let attempt = 1; ; attempt++) {
        try {
          return await root.transaction((tx) => within(tx, fn));
        } catch (err) {
          if (attempt >= TRANSACTION_ATTEMPTS || !retryable(err)) throw err;
          await new Promise((r) => setTimeout(r, backoffMs(attempt)));
        }
      }
    },
    close: () => pool.end(),
  };
}

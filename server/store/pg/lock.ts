import { sql } from 'drizzle-orm';
import type { Postgres } from './db.ts';

/**
 * Takes a transaction-scoped advisory lock on `key` (held until the surrounding transaction ends)
 * where SQLite's single writer made a read-then-write safe and READ COMMITTED does not (PG-30, PG-33).
 * Outside a transaction the lock would end with its own statement and guard nothing: refused.
 */
export async function lockForTransaction(pgx: Postgres, key: string): Promise<void> {
  if (!pgx.inTransaction()) throw new Error(`lockForTransaction(${key}) outside a transaction`);
  await pgx.db().execute(sql`select pg_advisory_xact_lock(hashtextextended(${key}, 0))`);
}

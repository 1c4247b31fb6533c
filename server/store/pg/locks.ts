import { sql } from 'drizzle-orm';
import type { Postgres } from './db.ts';

/**
 * Transaction-scoped advisory locks (PG-20 … PG-27): READ COMMITTED lets two transactions read
 * the same head of a chain, or the same "none yet", and both write after it; SQLite's single
 * writer never did. A lock named for what it guards is taken before that read and held until the
 * transaction ends. The name is hashed to PostgreSQL's 64-bit lock key (a collision only makes
 * two unrelated writers wait for each other).
 */
export async function lockFor(
  pgx: Postgres,
  name: string,
  mode: 'exclusive' | 'shared' = 'exclusive',
): Promise<void> {
  // Outside a transaction the lock would be released as soon as this statement ends.
  if (!pgx.inTransaction()) throw new Error(`lock ${mode} on "${name}" outside a transaction`);
  const fn = mode === 'shared' ? sql`pg_advisory_xact_lock_shared` : sql`pg_advisory_xact_lock`;
  await pgx.db().execute(sql`select ${fn}(hashtextextended(${name}, 0))`);
}

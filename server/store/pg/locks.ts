import { sql } from 'drizzle-orm';
import type { Postgres } from './db.ts';

/**
 * The ledger lock (PG-28, PG-29): one transaction-scoped advisory lock, taken before a
 * transaction reads the head of an ordered log it appends to — a project's release chain, the
 * instance's audit chain, the project event log — and before the look for an open hotfix that
 * decides whether one may start. Held until the transaction ends.
 *
 * Why a lock: READ COMMITTED lets two transactions read the same head (or the same "none yet")
 * and both append after it, forking a chain; SQLite's single writer never did.
 *
 * Why one lock and not one per log: a domain transaction appends to several logs, in whatever
 * order its steps run (a gate change audits, then emits its event; a new request emits the event
 * of the request it replaces, then audits). Two such transactions holding one log's lock each and
 * waiting for the other's would deadlock; a single lock cannot be taken in two orders. It costs
 * little: these transactions are short, and almost all of them took the instance-wide audit
 * chain's lock anyway.
 *
 * Why it also keeps readers whole: identity values are drawn at insert, not at commit. Under the
 * lock the rows of these logs are inserted and committed one transaction at a time, so whatever
 * is still uncommitted has a higher seq than everything a reader can see: a cursor (`after`,
 * `chain`, `lastSeq`) never moves past a row that commits later.
 */
const LEDGER_LOCK = 0x73746167_6c656467n; // "stagledg"

export async function lockLedger(pgx: Postgres): Promise<void> {
  // Outside a transaction the lock would be released as soon as this statement ends.
  if (!pgx.inTransaction()) throw new Error('the ledger lock is taken inside a transaction');
  await pgx.db().execute(sql`select pg_advisory_xact_lock(${LEDGER_LOCK.toString()}::bigint)`);
}

import { sql, type SQL } from 'drizzle-orm';

/** What of `Postgres` (db.ts) a lock needs; db.ts takes its migration lock key from here. */
interface Connection {
  inTransaction(): boolean;
  db(): { execute(query: SQL): PromiseLike<unknown> };
}

/**
 * Every advisory lock the PostgreSQL stores take, and what each guards. A key is text, hashed to
 * PostgreSQL's 64-bit lock key by `hashtextextended`; the prefixes keep the families apart.
 *
 * Why locks at all: SQLite's single writer made a read-then-write safe; under READ COMMITTED two
 * transactions can both read the same "none yet" (or the same head of a log) and both write.
 *
 * Table locks are not advisory and stay with what they guard: the retention commit's (retention.ts,
 * PG-45) and the snapshot write's row-exclusive lock on `blobs` that waits for it (snapshots.ts,
 * PG-16).
 */
export const LOCK = {
  /**
   * Migrations at start (PG-12), a session lock (db.ts): drizzle's `migrate()` takes none, and
   * several processes start at once.
   */
  migrations: 'migrations',
  /**
   * The ledger lock (PG-28, PG-29), taken before a transaction reads the head of an ordered log it
   * appends to — a project's release chain, the instance's audit chain, the project event log —
   * and before the look for an open hotfix that decides whether one may start.
   *
   * Instance-wide, not one per log: a domain transaction appends to several logs, in whatever
   * order its steps run (a gate change audits, then emits its event; a new request emits the
   * event of the request it replaces, then audits; a hotfix start looks, then audits). Two such
   * transactions holding one log's lock each and waiting for the other's would deadlock; a single
   * lock cannot be taken in two orders. It costs little: these transactions are short, and almost
   * all of them took the instance-wide audit chain's lock anyway.
   *
   * It also keeps readers whole: identity values are drawn at insert, not at commit. Under the
   * lock the rows of these logs are inserted and committed one transaction at a time, so whatever
   * is still uncommitted has a higher seq than everything a reader can see: a cursor (`after`,
   * `chain`, `lastSeq`) never moves past a row that commits later.
   */
  ledger: 'ledger',
  /** First-user set-up (PG-30): the count of accounts and the insert, one set-up at a time. */
  firstUser: 'users:first',
  /** A person's session trim (PG-30): sign-ins that trim and insert keep the bound exactly. */
  sessions: (userId: string) => `sessions:${userId}`,
  /** A person's reset links (PG-33): ending the earlier links and issuing one, one issue at a time. */
  passwordReset: (userId: string) => `password-reset:${userId}`,
  /**
   * A count that decides a limit (PG-130): taken by the store's counting method when it runs
   * inside a transaction, so the domain's count and its insert, in one `atomically`, run one
   * transaction at a time per scope. Taken before any ledger work of the same transaction.
   */
  limit: (what: string, scope: string) => `limit:${what}:${scope}`,
} as const;

/**
 * Takes a transaction-scoped advisory lock on `key` (one of LOCK), held until the surrounding
 * transaction ends. Outside a transaction the lock would end with its own statement and guard
 * nothing: refused.
 */
export async function lockForTransaction(pgx: Connection, key: string): Promise<void> {
  if (!pgx.inTransaction()) throw new Error(`lockForTransaction(${key}) outside a transaction`);
  await pgx.db().execute(sql`select pg_advisory_xact_lock(hashtextextended(${key}, 0))`);
}

/**
 * Before a read that decides a write — a count against a limit (PG-130), a look for an open
 * request to replace (PG-137): inside a transaction, takes `key`'s lock so the read and the
 * caller's write are one step per scope; outside one, the read only informs and there is nothing
 * to hold.
 */
export async function lockBeforeRead(pgx: Connection, key: string): Promise<void> {
  if (pgx.inTransaction()) await lockForTransaction(pgx, key);
}

import { afterAll, beforeAll, beforeEach } from 'vitest';
import { openPostgres, type Postgres } from '#server/store/pg/db.ts';
import { migratedPostgres } from './pg-db.ts';
import type { ThrowawayPostgres } from './postgres.ts';

/** One throwaway PostgreSQL for a whole test file, emptied before each of its tests. */
export interface PostgresPerFile {
  /** The stores' connection (valid once the file's tests run). */
  readonly pgx: Postgres;
  /** Another process's connection to the same database (closed by `cleanup`). */
  otherProcess(): Promise<Postgres>;
  /** Polls (with a deadline) until `n` sessions wait for a lock (advisory or a row's). */
  waitForLockWaiters(n: number): Promise<void>;
}

/**
 * Starts the server before the file's first test and stops it after the last; before each test
 * every table is truncated and its identities restarted, so a test starts from an empty database
 * with seqs from 1, as a new SQLite file does. Call once, at the top level of the file.
 */
export function postgresPerFile(cleanup: (() => unknown)[]): PostgresPerFile {
  const serverCleanup: (() => unknown)[] = [];
  let server: ThrowawayPostgres | undefined;
  let pgx: Postgres | undefined;
  beforeAll(async () => {
    ({ server, pgx } = await migratedPostgres(serverCleanup));
  }, 60_000);
  afterAll(async () => {
    for (const f of serverCleanup.splice(0).reverse()) await f();
  });
  beforeEach(async () => {
    const { rows } = await pgx!.pool.query<{ t: string }>(
      `select tablename as t from pg_tables where schemaname = 'public'`,
    );
    await pgx!.pool.query(
      `truncate ${rows.map((r) => `"${r.t}"`).join(', ')} restart identity cascade`,
    );
  });
  return {
    get pgx() {
      return pgx!;
    },
    async otherProcess() {
      const other = await openPostgres(server!.url, { max: 2, log: () => {} });
      cleanup.push(() => other.close());
      return other;
    },
    async waitForLockWaiters(n) {
      const deadline = Date.now() + 5000;
      for (;;) {
        const { rows } = await pgx!.pool.query<{ n: number }>(
          `select count(*)::int as n from pg_locks where not granted`,
        );
        if (rows[0]!.n >= n) return;
        if (Date.now() > deadline) throw new Error(`no ${n} lock waiters after 5 s`);
        await new Promise((r) => setImmediate(r));
      }
    },
  };
}

/** A promise and the function that resolves it (to hold a transaction open until a test says). */
export function opened<T>(): { promise: Promise<T>; open: (v: T) => void } {
  let open!: (v: T) => void;
  const promise = new Promise<T>((r) => (open = r));
  return { promise, open };
}

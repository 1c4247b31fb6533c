import { afterAll, beforeAll, beforeEach } from 'vitest';
import pg from 'pg';
import { openPostgres, type Postgres } from '#server/store/pg/db.ts';
import { startPostgres } from './postgres.ts';

/** One throwaway PostgreSQL server for a test file, and a new database for each of its tests. */
export interface PostgresPerFile {
  /** This test's database, as the stores connect to it (valid once the test runs). */
  readonly pgx: Postgres;
  /** Another process's connection to this test's database (closed by `cleanup`). */
  otherProcess(): Promise<Postgres>;
  /** Polls (with a deadline) until `n` sessions wait for a lock (advisory or a row's). */
  waitForLockWaiters(n: number): Promise<void>;
}

/**
 * Starts the server before the file's first test and migrates a template database once; before
 * each test a new database is copied from it (CREATE DATABASE … TEMPLATE, a few milliseconds), so
 * every test starts empty with identities from 1, as a new SQLite file does. The test's
 * connection is closed by `cleanup` (after whatever the test pushed). Call once, at the top level
 * of the file.
 */
export function postgresPerFile(cleanup: (() => unknown)[]): PostgresPerFile {
  const fileCleanup: (() => unknown)[] = [];
  let admin: pg.Pool | undefined;
  let base = '';
  let url = '';
  let n = 0;
  let pgx: Postgres | undefined;
  const open = (max: number) => openPostgres(url, { max, log: () => {} });
  beforeAll(async () => {
    const server = await startPostgres(fileCleanup);
    base = server.url.replace(/\/postgres$/, '');
    admin = new pg.Pool({ connectionString: server.url, max: 1 });
    fileCleanup.push(() => admin?.end());
    await admin.query('CREATE DATABASE template_stores');
    await (await openPostgres(`${base}/template_stores`, { max: 1, log: () => {} })).close();
  }, 60_000);
  afterAll(async () => {
    for (const f of fileCleanup.splice(0).reverse()) await f();
  });
  beforeEach(async () => {
    const name = `test_${++n}`;
    await admin!.query(`CREATE DATABASE ${name} TEMPLATE template_stores`);
    url = `${base}/${name}`;
    const opened = await open(8);
    pgx = opened;
    cleanup.push(() => opened.close());
  });
  return {
    get pgx() {
      return pgx!;
    },
    async otherProcess() {
      const other = await open(2);
      cleanup.push(() => other.close());
      return other;
    },
    async waitForLockWaiters(waiters) {
      const deadline = Date.now() + 5000;
      for (;;) {
        if ((await lockWaiters(pgx!)) >= waiters) return;
        if (Date.now() > deadline) throw new Error(`no ${waiters} lock waiters after 5 s`);
        await new Promise((r) => setImmediate(r));
      }
    },
  };
}

/** How many sessions of the server wait for a lock (advisory, a table's or a row's). */
export async function lockWaiters(pgx: Postgres): Promise<number> {
  const { rows } = await pgx.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock'`,
  );
  return rows[0]!.n;
}

/** Starts every call at once, each on its own pooled connection as far as the pool allows. */
export const race = <T>(n: number, f: (i: number) => Promise<T>) =>
  Promise.all(Array.from({ length: n }, (_, i) => f(i)));

/** A promise and the function that resolves it (to hold a transaction open until a test says). */
export function opened<T>(): { promise: Promise<T>; open: (v: T) => void } {
  let open!: (v: T) => void;
  const promise = new Promise<T>((r) => (open = r));
  return { promise, open };
}

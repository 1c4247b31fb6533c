import fs from 'node:fs';
import { afterAll, beforeAll, expect } from 'vitest';
import pg from 'pg';
import { openDatabase, type Db } from '#server/store/db.ts';
import { openPostgres, type Postgres } from '#server/store/pg/db.ts';
import type { Async } from '#server/store/port.ts';
import { startPostgres } from './postgres.ts';
import { tempDataDir } from './server.ts';

/** A synchronous SQLite store seen through its port: each method answering a promise. */
export function asAsync<S extends object>(store: S): Async<S> {
  return Object.fromEntries(
    Object.entries(store).map(([k, v]) => [
      k,
      typeof v === 'function' ? async (...args: unknown[]) => v(...args) : v,
    ]),
  ) as Async<S>;
}

/**
 * One throwaway PostgreSQL for the test file, migrated once into a template database; each
 * `fresh()` is a new database copied from it (a few milliseconds), so every test starts empty and
 * identity keys start at 1 as they do in a new SQLite file. Call once, at the top level of a file.
 */
export function postgresPerFile(cleanup: (() => unknown)[]): {
  fresh(opts?: { max?: number }): Promise<Postgres>;
} {
  const fileCleanup: (() => unknown)[] = [];
  let admin: pg.Pool | undefined;
  let base = '';
  let n = 0;
  beforeAll(async () => {
    const server = await startPostgres(fileCleanup);
    base = server.url.replace(/\/postgres$/, '');
    admin = new pg.Pool({ connectionString: server.url, max: 1 });
    fileCleanup.push(() => admin?.end());
    await admin.query('CREATE DATABASE template_stores');
    const pgx = await openPostgres(`${base}/template_stores`, { max: 1, log: () => {} });
    await pgx.close();
  }, 60_000);
  afterAll(async () => {
    for (const f of fileCleanup.splice(0).reverse()) await f();
  });
  return {
    async fresh(opts = {}) {
      const name = `test_${++n}`;
      await admin!.query(`CREATE DATABASE ${name} TEMPLATE template_stores`);
      const pgx = await openPostgres(`${base}/${name}`, { max: opts.max ?? 4, log: () => {} });
      cleanup.push(() => pgx.close());
      return pgx;
    },
  };
}

/** A new SQLite database in a temp folder, closed and removed by cleanup. */
export function freshSqlite(cleanup: (() => unknown)[]): Db {
  const dir = tempDataDir();
  const open = openDatabase(dir, 'normal', () => {});
  cleanup.push(async () => {
    await open.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return open.db;
}

/** What a scenario answered, labelled, in order. */
export type Answers = [label: string, value: unknown][];

/**
 * Runs one scenario against each dialect's stores and expects the same answers, labelled so a
 * difference names the call. Answers the SQLite answers by label, for checks of their own.
 */
export async function sameOnBoth<S>(
  lite: () => Promise<S>,
  postgres: () => Promise<S>,
  scenario: (stores: S, say: (label: string, value: unknown) => void) => Promise<void>,
): Promise<Map<string, unknown>> {
  const run = async (stores: S) => {
    const answers: Answers = [];
    await scenario(stores, (label, value) => answers.push([label, value]));
    return answers;
  };
  const onSqlite = await run(await lite());
  const onPostgres = await run(await postgres());
  expect(onPostgres).toEqual(onSqlite);
  return new Map(onSqlite);
}

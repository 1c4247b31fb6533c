import { afterAll, beforeAll, expect } from 'vitest';
import type { SQLiteTable } from 'drizzle-orm/sqlite-core';
import type { PgTable } from 'drizzle-orm/pg-core';
import * as liteTables from '#schema/db/tables.ts';
import * as pgTables from '#schema/db/pg-tables.ts';
import { openDatabase, type OpenDatabase } from '../../server/store/db.ts';
import type { Postgres } from '../../server/store/pg/db.ts';
import { migratedPostgres } from './pg-db.ts';
import type { ThrowawayPostgres } from './postgres.ts';
import { tempDataDir } from './server.ts';

/** One SQLite database and one PostgreSQL server for a whole test file (tests use distinct ids). */
export interface TwoDialects {
  lite: OpenDatabase;
  pgx: Postgres;
  server: ThrowawayPostgres;
}

/** Opens both in a beforeAll and closes them in an afterAll; call at the top level of a file. */
export function twoDialects(): () => TwoDialects {
  let opened: TwoDialects | undefined;
  const undo: (() => unknown)[] = [];
  beforeAll(async () => {
    const { server, pgx } = await migratedPostgres(undo);
    const lite = openDatabase(tempDataDir(), 'normal', () => {});
    undo.push(() => lite.close());
    opened = { lite, pgx, server };
  });
  afterAll(async () => {
    for (const f of undo.splice(0).reverse()) await f();
  });
  return () => opened!;
}

type TableName = keyof typeof liteTables & keyof typeof pgTables;

/** The same rows written to the same table in both databases (parents of what a test reads). */
export async function seed<N extends TableName>(
  d: TwoDialects,
  table: N,
  rows: (typeof liteTables)[N] extends { $inferInsert: infer R } ? R[] : never,
): Promise<void> {
  d.lite.db
    .insert(liteTables[table] as unknown as SQLiteTable)
    .values(rows as never)
    .run();
  await d.pgx
    .db()
    .insert(pgTables[table] as unknown as PgTable)
    .values(rows as never);
}

/**
 * Runs one call on the SQLite store and on the PostgreSQL store and expects the same answer
 * (PostgreSQL's awaited); answers SQLite's. The call runs on SQLite first, then on PostgreSQL.
 */
export function sameOn<L extends object, P extends object>(lite: L, pg: P) {
  return async <R>(call: (store: L | P) => R, what = call.toString()): Promise<Awaited<R>> => {
    const want = await call(lite);
    const got = await call(pg);
    expect(got, what).toStrictEqual(want);
    return want;
  };
}

/** Whether both databases hold the same rows of a table (sorted by `key` text). */
export async function sameRows<N extends TableName>(
  d: TwoDialects,
  table: N,
  key: (row: Record<string, unknown>) => string,
): Promise<void> {
  const sort = (rows: Record<string, unknown>[]) =>
    [...rows].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  const lite = d.lite.db
    .select()
    .from(liteTables[table] as unknown as SQLiteTable)
    .all() as Record<string, unknown>[];
  const pg = (await d.pgx
    .db()
    .select()
    .from(pgTables[table] as unknown as PgTable)) as Record<string, unknown>[];
  expect(sort(pg), `rows of ${table}`).toStrictEqual(sort(lite));
}

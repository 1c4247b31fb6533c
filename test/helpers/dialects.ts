import fs from 'node:fs';
import { beforeEach, expect } from 'vitest';
import type { SQLiteTable } from 'drizzle-orm/sqlite-core';
import type { PgTable } from 'drizzle-orm/pg-core';
import * as liteTables from '#schema/db/tables.ts';
import * as pgTables from '#schema/db/pg-tables.ts';
import { AppError } from '#schema/errors.ts';
import { openDatabase, type Db, type OpenDatabase } from '#server/store/db.ts';
import type { Async, Transactor } from '#server/store/port.ts';
import type { Postgres } from '#server/store/pg/db.ts';
import { createProjectStore, type ProjectRecord } from '#server/store/projects.ts';
import { createReleaseStore, type Move } from '#server/store/releases.ts';
import { createSnapshotStore } from '#server/store/snapshots.ts';
import { createHotfixStore, type DraftRow } from '#server/store/hotfixes.ts';
import { createAuditStore } from '#server/store/audit.ts';
import { createGateStore, type RequestRow } from '#server/store/gates.ts';
import { createEventStore } from '#server/store/events.ts';
import { createPgProjectStore } from '#server/store/pg/projects.ts';
import { createPgReleaseStore } from '#server/store/pg/releases.ts';
import { createPgSnapshotStore } from '#server/store/pg/snapshots.ts';
import { createPgHotfixStore } from '#server/store/pg/hotfixes.ts';
import { createPgAuditStore } from '#server/store/pg/audit.ts';
import { createPgGateStore } from '#server/store/pg/gates.ts';
import { createPgEventStore } from '#server/store/pg/events.ts';
import { postgresPerFile } from './pg-per-file.ts';
import { tempDataDir } from './server.ts';

/**
 * Comparing the two dialects (PG-20 … PG-45): a SQLite store and its PostgreSQL twin given the
 * same calls or scenario must answer the same; the same rows seeded into both; whole tables
 * compared; and the fixtures the release-store scenarios write (deterministic ids and times, so
 * seqs and hashes agree).
 */

/** A new SQLite database in a temp folder, closed and removed by cleanup. */
export function freshSqlite(cleanup: (() => unknown)[]): OpenDatabase {
  const dir = tempDataDir();
  const open = openDatabase(dir, 'normal', () => {});
  cleanup.push(async () => {
    await open.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return open;
}

/** A new SQLite file and a new PostgreSQL database, for one test. */
export interface TwoDatabases {
  lite: Db;
  pgx: Postgres;
}

/** Both, new before each test of the file (PostgreSQL: `postgresPerFile`). Call at the top level. */
export function twoDatabasesPerTest(cleanup: (() => unknown)[]): () => TwoDatabases {
  const postgres = postgresPerFile(cleanup);
  let lite: Db | undefined;
  beforeEach(() => {
    lite = freshSqlite(cleanup).db;
  });
  return () => ({ lite: lite!, pgx: postgres.pgx });
}

/**
 * Runs one scenario against each dialect's stores (SQLite first) and expects the same answer;
 * answers SQLite's.
 */
export async function sameOnBoth<S, T>(
  lite: () => S | Promise<S>,
  postgres: () => S | Promise<S>,
  scenario: (stores: S) => Promise<T>,
): Promise<T> {
  const onSqlite = await scenario(await lite());
  const onPostgres = await scenario(await postgres());
  expect(onPostgres).toEqual(onSqlite);
  return onSqlite;
}

/** What a scenario answered, labelled, in order. */
export type Answers = [label: string, value: unknown][];

/** A scenario that labels each answer as it goes (so a difference names the call): the answers. */
export const labelled =
  <S>(scenario: (stores: S, say: (label: string, value: unknown) => void) => Promise<void>) =>
  async (stores: S): Promise<Answers> => {
    const answers: Answers = [];
    await scenario(stores, (label, value) => answers.push([label, value]));
    return answers;
  };

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

type TableName = keyof typeof liteTables & keyof typeof pgTables;

/** The same rows written to the same table in both databases (parents of what a test reads). */
export async function seedRows<N extends TableName>(
  d: TwoDatabases,
  table: N,
  rows: (typeof liteTables)[N] extends { $inferInsert: infer R } ? R[] : never,
): Promise<void> {
  d.lite
    .insert(liteTables[table] as unknown as SQLiteTable)
    .values(rows as never)
    .run();
  await d.pgx
    .db()
    .insert(pgTables[table] as unknown as PgTable)
    .values(rows as never);
}

/** Whether both databases hold the same rows of a table (sorted by `key` text). */
export async function sameRows<N extends TableName>(
  d: TwoDatabases,
  table: N,
  key: (row: Record<string, unknown>) => string,
): Promise<void> {
  const sort = (rows: Record<string, unknown>[]) =>
    [...rows].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  const lite = d.lite
    .select()
    .from(liteTables[table] as unknown as SQLiteTable)
    .all() as Record<string, unknown>[];
  const pg = (await d.pgx
    .db()
    .select()
    .from(pgTables[table] as unknown as PgTable)) as Record<string, unknown>[];
  expect(sort(pg), `rows of ${table}`).toStrictEqual(sort(lite));
}

/** What a call answered, or the id (and details) of the AppError it threw. */
export const attempt = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    (v) => v,
    (e: unknown) => {
      if (e instanceof AppError) return { error: e.id, details: e.details };
      throw e;
    },
  );

/** For methods whose SQL names no order: the same rows, whatever order each database gave. */
export const asSet = <T>(rows: T[]): T[] =>
  [...rows].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));

type Sqlite<F extends (...a: never[]) => object> = Async<ReturnType<F>>;
/** The release-side stores (PG-20 … PG-29) through their ports. */
export interface Stores {
  /** Several calls as one transaction, as the domain runs a move and what stands or falls with it. */
  atomically: Transactor['atomically'];
  projects: Omit<Sqlite<typeof createProjectStore>, 'atomically'>;
  releases: Sqlite<typeof createReleaseStore>;
  snapshots: Sqlite<typeof createSnapshotStore>;
  hotfixes: Sqlite<typeof createHotfixStore>;
  audit: Sqlite<typeof createAuditStore>;
  gates: Sqlite<typeof createGateStore>;
  events: Sqlite<typeof createEventStore>;
}

/** The SQLite stores on a new database (closed by cleanup). */
export function sqliteStores(cleanup: (() => unknown)[]): Stores {
  const { db, transactions } = freshSqlite(cleanup);
  const asAsync = transactions.port;
  return {
    atomically: transactions.atomically,
    projects: asAsync(createProjectStore(db)),
    releases: asAsync(createReleaseStore(db)),
    snapshots: asAsync(createSnapshotStore(db)),
    hotfixes: asAsync(createHotfixStore(db)),
    audit: asAsync(createAuditStore(db)),
    gates: asAsync(createGateStore(db)),
    events: asAsync(createEventStore(db)),
  };
}

export const pgStores = (pgx: Postgres): Stores => ({
  atomically: pgx.atomically,
  projects: createPgProjectStore(pgx),
  releases: createPgReleaseStore(pgx),
  snapshots: createPgSnapshotStore(pgx),
  hotfixes: createPgHotfixStore(pgx),
  audit: createPgAuditStore(pgx),
  gates: createPgGateStore(pgx),
  events: createPgEventStore(pgx),
});

export const T0 = 1_700_000_000_000;
export function projectRecord(pid: string, at = T0): ProjectRecord {
  const env = (name: string, position: number) => ({
    id: `${pid}-${name}`,
    projectId: pid,
    name,
    kind: name,
    position,
    color: '#123456',
    snapshotId: null,
    liveSnapshotId: null,
    overlayRevision: 0,
  });
  return {
    project: {
      id: pid,
      name: `Project ${pid}`,
      preset: 'three',
      flowRules: '{}',
      createdBy: 'u1',
      createdAt: at,
    },
    environments: [env('dev', 0), env('staging', 1), env('prod', 2)],
    drafts: [draft(pid, `${pid}-d1`, `${pid}-dev`, 'authoring', at)],
  };
}

export function draft(pid: string, id: string, envId: string, kind: string, at: number): DraftRow {
  return {
    id,
    projectId: pid,
    environmentId: envId,
    kind,
    createdAt: at,
    baseSnapshotId: null,
    createdBy: 'u1',
    closedAt: null,
    sections: null,
  };
}

/** Project `pid` (three environments, a draft, an audience) written through the project store. */
export async function seedProject(s: Stores, pid: string, at = T0): Promise<void> {
  await s.projects.insertProject(
    projectRecord(pid, at),
    [{ draftId: `${pid}-d1`, state: new Uint8Array([1, 2, 3]) }],
    [
      {
        id: `${pid}-aud`,
        environmentId: `${pid}-prod`,
        name: 'Beta',
        nameKey: 'beta',
        description: 'testers',
        rules: [],
        updatedBy: 'u1',
        updatedAt: at,
      },
    ],
  );
}

export const move = (
  pid: string,
  m: Partial<Move> & Pick<Move, 'environmentId' | 'toSnapshotId'>,
): Move => ({
  projectId: pid,
  pointer: 'current',
  kind: 'sync',
  actorId: 'u1',
  message: null,
  detail: undefined,
  ...m,
});

export function request(
  id: string,
  pid: string,
  snapshotId: string,
  over: Partial<RequestRow> = {},
): RequestRow {
  return {
    id,
    projectId: pid,
    kind: 'sync',
    sourceEnvironmentId: `${pid}-dev`,
    targetEnvironmentId: `${pid}-staging`,
    snapshotId,
    message: null,
    requestedBy: 'u2',
    createdAt: T0,
    state: 'open',
    closedAt: null,
    closedReason: null,
    ...over,
  };
}

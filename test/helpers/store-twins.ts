import { expect } from 'vitest';
import { AppError } from '#schema/errors.ts';
import { openDatabase } from '#server/store/db.ts';
import type { Async } from '#server/store/port.ts';
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
import { tempDataDir } from './server.ts';

/**
 * Store twins (PG-20 … PG-29): the same scenario run on a real SQLite store and on its
 * PostgreSQL twin, answers compared; and the fixtures those scenarios write (deterministic ids
 * and times, so seqs and hashes agree).
 */

type Sqlite<F extends (...a: never[]) => object> = Async<ReturnType<F>>;
export interface Stores {
  projects: Omit<Sqlite<typeof createProjectStore>, 'atomically'>;
  releases: Sqlite<typeof createReleaseStore>;
  snapshots: Sqlite<typeof createSnapshotStore>;
  hotfixes: Sqlite<typeof createHotfixStore>;
  audit: Sqlite<typeof createAuditStore>;
  gates: Sqlite<typeof createGateStore>;
  events: Sqlite<typeof createEventStore>;
}

/** A synchronous store seen through its port (what the domain will await). */
function asAsync<S extends object>(store: S): Async<S> {
  return Object.fromEntries(
    Object.entries(store).map(([k, f]) => [
      k,
      typeof f === 'function'
        ? async (...a: unknown[]) => (f as (...x: unknown[]) => unknown)(...a)
        : f,
    ]),
  ) as Async<S>;
}

/** The SQLite stores on a new database in a temp folder (closed by cleanup). */
export function sqliteStores(cleanup: (() => unknown)[]): Stores {
  const database = openDatabase(tempDataDir(), 'normal', () => {});
  cleanup.push(() => database.close());
  const db = database.db;
  return {
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
  projects: createPgProjectStore(pgx),
  releases: createPgReleaseStore(pgx),
  snapshots: createPgSnapshotStore(pgx),
  hotfixes: createPgHotfixStore(pgx),
  audit: createPgAuditStore(pgx),
  gates: createPgGateStore(pgx),
  events: createPgEventStore(pgx),
});

/** What a call answered, or the id (and details) of the AppError it threw. */
export const attempt = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    (v) => v,
    (e: unknown) => {
      if (e instanceof AppError) return { error: e.id, details: e.details };
      throw e;
    },
  );

/** Runs the scenario on SQLite and on PostgreSQL; both answer the same. */
export async function both<T>(
  pgx: Postgres,
  cleanup: (() => unknown)[],
  scenario: (s: Stores) => Promise<T>,
): Promise<T> {
  const onSqlite = await scenario(sqliteStores(cleanup));
  const onPostgres = await scenario(pgStores(pgx));
  expect(onPostgres).toEqual(onSqlite);
  return onSqlite;
}

/** For methods whose SQL names no order: the same rows, whatever order each database gave. */
export const asSet = <T>(rows: T[]): T[] =>
  [...rows].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));

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

export async function seed(s: Stores, pid: string, at = T0): Promise<void> {
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

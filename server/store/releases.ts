import type { Async } from './port.ts';
import { and, asc, desc, eq, gt, inArray, lt, or, sql } from 'drizzle-orm';
import { environments, releases } from '#schema/db/tables.ts';
import type { Db } from './db.ts';
import {
  checkMove,
  pointerColumn,
  releaseRecord,
  type Appended,
  type Move,
  type Pointer,
} from './release-records.ts';

export type ReleaseRow = typeof releases.$inferSelect;
export type { Move, Pointer } from './release-records.ts';

/** Appends a release record to the project's hash chain. */
function appendTo(tx: Pick<Db, 'select' | 'insert'>, m: Appended, now: number): ReleaseRow {
  const last = tx
    .select({ hash: releases.hash })
    .from(releases)
    .where(eq(releases.projectId, m.projectId))
    .orderBy(desc(releases.seq))
    .limit(1)
    .get();
  return tx
    .insert(releases)
    .values(releaseRecord(m, last?.hash, now))
    .returning()
    .get();
}

/** Release records: the pointer moves of each environment, one hash chain per project. */
export function createReleaseStore(db: Db) {
  /** An environment's records before `before` (a seq; null: from the newest), newest first (VH-4). */
  function historyPage(environmentId: string, before: number | null, limit: number): ReleaseRow[] {
    return db
      .select()
      .from(releases)
      .where(
        before === null
          ? eq(releases.environmentId, environmentId)
          : and(eq(releases.environmentId, environmentId), lt(releases.seq, before)),
      )
      .orderBy(desc(releases.seq))
      .limit(limit)
      .all();
  }

  return {
    /**
     * Moves one pointer and appends its release record in ONE transaction, after re-checking
     * (inside it) that nothing moved since the plan was made. What must stand or fall with the
     * move (closing the request it satisfied: domain/approvals.ts `settle`) runs beside it in the
     * domain's `atomically` (PG-11).
     */
    commitMove(m: Move, now: number): ReleaseRow {
      return db.transaction((tx) => {
        const byId = (id: string) =>
          tx.select().from(environments).where(eq(environments.id, id)).get();
        const env = byId(m.environmentId);
        const from = checkMove(m, env, m.source && env && byId(m.source.environmentId));
        tx.update(environments)
          .set({ [pointerColumn(m.pointer)]: m.toSnapshotId })
          .where(eq(environments.id, m.environmentId))
          .run();
        return appendTo(tx, { ...m, fromSnapshotId: from }, now);
      });
    },

    /**
     * A record that moves no pointer: replication of a `down` section into an environment
     * (pointer `section`; its snapshot holds just that section). It joins the same hash chain.
     */
    recordReplication(
      m: Omit<Move, 'pointer' | 'expectedFrom' | 'source'> & {
        fromSnapshotId: string | null;
        sourceEnvironmentId: string;
      },
      now: number,
    ): ReleaseRow {
      return db.transaction((tx) => {
        return appendTo(
          tx,
          {
            ...m,
            pointer: 'section',
            source: { environmentId: m.sourceEnvironmentId, pointer: 'current' },
          },
          now,
        );
      });
    },

    history(environmentId: string, limit = 200): ReleaseRow[] {
      return historyPage(environmentId, null, limit);
    },
    /**
     * When a replication last changed `section` in an environment (null: never). Walks the
     * environment's records newest first on its (environment, seq) index and stops at the first match.
     */
    lastReplicated(environmentId: string, section: string): number | null {
      return (
        db
          .select({ at: releases.createdAt })
          .from(releases)
          .where(
            and(
              eq(releases.environmentId, environmentId),
              eq(releases.kind, 'replicate'),
              sql`json_extract(${releases.detail}, '$.section') = ${section}`,
            ),
          )
          .orderBy(desc(releases.seq))
          .limit(1)
          .get()?.at ?? null
      );
    },
    /** The project's chain after `after` (a seq), oldest first, at most `limit` rows (VH-1). */
    chain(projectId: string, after: number, limit: number): ReleaseRow[] {
      return db
        .select()
        .from(releases)
        .where(and(eq(releases.projectId, projectId), gt(releases.seq, after)))
        .orderBy(asc(releases.seq))
        .limit(limit)
        .all();
    },
    historyPage,
    projectReleases(projectId: string): ReleaseRow[] {
      return db
        .select()
        .from(releases)
        .where(eq(releases.projectId, projectId))
        .orderBy(asc(releases.seq))
        .all();
    },
    /** Did this environment's pointer ever point at the snapshot? (rollback only goes back in its own history) */
    wasEverAt(environmentId: string, pointer: Pointer, snapshotId: string): boolean {
      return (
        db
          .select({ seq: releases.seq })
          .from(releases)
          .where(
            and(
              eq(releases.environmentId, environmentId),
              eq(releases.pointer, pointer),
              eq(releases.toSnapshotId, snapshotId),
            ),
          )
          .limit(1)
          .get() !== undefined
      );
    },
    /** The newest move of this environment's pointer (the release that put its snapshot there), if any. */
    lastMove(environmentId: string, pointer: Pointer): ReleaseRow | undefined {
      return db
        .select()
        .from(releases)
        .where(and(eq(releases.environmentId, environmentId), eq(releases.pointer, pointer)))
        .orderBy(desc(releases.seq))
        .limit(1)
        .get();
    },
    /** Did one of these environments ever hold the snapshot (a release record of theirs moved to or from it)? */
    heldByAny(environmentIds: readonly string[], snapshotId: string): boolean {
      if (environmentIds.length === 0) return false;
      return (
        db
          .select({ seq: releases.seq })
          .from(releases)
          .where(
            and(
              inArray(releases.environmentId, [...environmentIds]),
              or(eq(releases.toSnapshotId, snapshotId), eq(releases.fromSnapshotId, snapshotId)),
            ),
          )
          .limit(1)
          .get() !== undefined
      );
    },
  };
}

/** The port the domain sees (PG-10). */
export type ReleaseStore = Async<ReturnType<typeof createReleaseStore>>;

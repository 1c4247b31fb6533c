import { and, asc, desc, eq, gt, inArray, lt, or, sql } from 'drizzle-orm';
import { environments, releases } from '#schema/db/pg-tables.ts';
import { AppError } from '#schema/errors.ts';
import type { createReleaseStore, Move, Pointer, ReleaseRow } from '../releases.ts';
import { checkMove, pointerColumn, releaseRecord, type Appended } from '../release-records.ts';
import type { Async } from '../port.ts';
import type { Postgres } from './db.ts';
import { LOCK, lockForTransaction } from './locks.ts';

/** Whatever must stand or fall with a record, written in its transaction (it may be async here). */

/** The release store on PostgreSQL (PG-20): pointer moves and one hash chain per project. */
export function createPgReleaseStore(pgx: Postgres) {
  /** Appends a record to its project's chain; the caller holds the ledger lock (locks.ts). */
  async function appendTo(m: Appended, now: number): Promise<ReleaseRow> {
    const [last] = await pgx
      .db()
      .select({ hash: releases.hash })
      .from(releases)
      .where(eq(releases.projectId, m.projectId))
      .orderBy(desc(releases.seq))
      .limit(1);
    const [row] = await pgx
      .db()
      .insert(releases)
      .values(releaseRecord(m, last?.hash, now))
      .returning();
    return row!;
  }

  function historyPage(environmentId: string, before: number | null, limit: number) {
    return pgx
      .db()
      .select()
      .from(releases)
      .where(
        before === null
          ? eq(releases.environmentId, environmentId)
          : and(eq(releases.environmentId, environmentId), lt(releases.seq, before)),
      )
      .orderBy(desc(releases.seq))
      .limit(limit);
  }

  return {
    /**
     * Moves one pointer and appends its record in one transaction (joining the domain's). Every
     * pointer write is a move, and every move holds the ledger lock (locks.ts) from before it reads
     * the pointers to its commit: what it checks (target and source) cannot move meanwhile. The
     * UPDATE is still conditional on the pointer it read, so a write that bypassed the lock would
     * fail this move (`target_moved`) rather than be overwritten.
     */
    commitMove(m: Move, now: number) {
      return pgx.atomically(async () => {
        await lockForTransaction(pgx, LOCK.ledger);
        const byId = async (id: string) =>
          (await pgx.db().select().from(environments).where(eq(environments.id, id)))[0];
        const env = await byId(m.environmentId);
        const src = m.source && env ? await byId(m.source.environmentId) : undefined;
        const from = checkMove(m, env, src);
        const column = pointerColumn(m.pointer);
        const swapped = await pgx
          .db()
          .update(environments)
          .set({ [column]: m.toSnapshotId })
          .where(
            and(
              eq(environments.id, m.environmentId),
              sql`${environments[column]} is not distinct from ${from}`,
            ),
          );
        if (swapped.rowCount !== 1) {
          const actual = (await byId(m.environmentId))?.[column] ?? null;
          throw new AppError('target_moved', undefined, { expected: from, actual });
        }
        return appendTo({ ...m, fromSnapshotId: from }, now);
      });
    },

    recordReplication(
      m: Omit<Move, 'pointer' | 'expectedFrom' | 'source'> & {
        fromSnapshotId: string | null;
        sourceEnvironmentId: string;
      },
      now: number,
    ) {
      return pgx.atomically(async () => {
        await lockForTransaction(pgx, LOCK.ledger);
        return appendTo(
          {
            ...m,
            pointer: 'section',
            source: { environmentId: m.sourceEnvironmentId, pointer: 'current' },
          },
          now,
        );
      });
    },

    history(environmentId: string, limit = 200) {
      return historyPage(environmentId, null, limit);
    },
    async lastReplicated(environmentId: string, section: string) {
      const [row] = await pgx
        .db()
        .select({ at: releases.createdAt })
        .from(releases)
        .where(
          and(
            eq(releases.environmentId, environmentId),
            eq(releases.kind, 'replicate'),
            // The expression of the partial index releases_replicated (pg-tables.ts), so it is used.
            sql`(${releases.detail}::jsonb ->> 'section') = ${section}`,
          ),
        )
        .orderBy(desc(releases.seq))
        .limit(1);
      return row?.at ?? null;
    },
    chain(projectId: string, after: number, limit: number) {
      return pgx
        .db()
        .select()
        .from(releases)
        .where(and(eq(releases.projectId, projectId), gt(releases.seq, after)))
        .orderBy(asc(releases.seq))
        .limit(limit);
    },
    historyPage,
    projectReleases(projectId: string) {
      return pgx
        .db()
        .select()
        .from(releases)
        .where(eq(releases.projectId, projectId))
        .orderBy(asc(releases.seq));
    },
    async wasEverAt(environmentId: string, pointer: Pointer, snapshotId: string) {
      const rows = await pgx
        .db()
        .select({ seq: releases.seq })
        .from(releases)
        .where(
          and(
            eq(releases.environmentId, environmentId),
            eq(releases.pointer, pointer),
            eq(releases.toSnapshotId, snapshotId),
          ),
        )
        .limit(1);
      return rows.length > 0;
    },
    async lastMove(environmentId: string, pointer: Pointer) {
      const [row] = await pgx
        .db()
        .select()
        .from(releases)
        .where(and(eq(releases.environmentId, environmentId), eq(releases.pointer, pointer)))
        .orderBy(desc(releases.seq))
        .limit(1);
      return row;
    },
    async heldByAny(environmentIds: readonly string[], snapshotId: string) {
      if (environmentIds.length === 0) return false;
      const rows = await pgx
        .db()
        .select({ seq: releases.seq })
        .from(releases)
        .where(
          and(
            inArray(releases.environmentId, [...environmentIds]),
            or(eq(releases.toSnapshotId, snapshotId), eq(releases.fromSnapshotId, snapshotId)),
          ),
        )
        .limit(1);
      return rows.length > 0;
    },
  } satisfies Async<ReturnType<typeof createReleaseStore>>;
}

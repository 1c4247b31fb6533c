import { and, asc, count, eq, lte, min } from 'drizzle-orm';
import { freezeWindows, scheduledReleases } from '#schema/db/pg-tables.ts';
import type { Async } from '../port.ts';
import type { createScheduleStore, FreezeWindowRow, ScheduledRow } from '../schedule.ts';
import { bytewise } from './bytewise.ts';
import type { Postgres } from './db.ts';
import { LOCK, lockBeforeRead } from './locks.ts';

/** Scheduled releases and freeze windows on PostgreSQL (PG-42); see server/domain/schedule.ts. */
export function createPgScheduleStore(pgx: Postgres) {
  const pendingOf = (environmentId: string) =>
    and(eq(scheduledReleases.environmentId, environmentId), eq(scheduledReleases.state, 'pending'));
  return {
    async insert(row: ScheduledRow): Promise<void> {
      await pgx.db().insert(scheduledReleases).values(row);
    },
    async get(id: string): Promise<ScheduledRow | undefined> {
      const [r] = await pgx
        .db()
        .select()
        .from(scheduledReleases)
        .where(eq(scheduledReleases.id, id));
      return r;
    },
    // Equal times: creation order, then id (SQLite's ties fall in rowid order, the insertion order).
    pending: async (environmentId: string): Promise<ScheduledRow[]> =>
      pgx
        .db()
        .select()
        .from(scheduledReleases)
        .where(pendingOf(environmentId))
        .orderBy(
          asc(scheduledReleases.at),
          asc(scheduledReleases.createdAt),
          bytewise(scheduledReleases.id),
        ),
    async pendingCount(environmentId: string): Promise<number> {
      await lockBeforeRead(pgx, LOCK.limit('scheduled', environmentId));
      const [r] = await pgx
        .db()
        .select({ n: count() })
        .from(scheduledReleases)
        .where(pendingOf(environmentId));
      return r!.n;
    },
    due: async (now: number, limit: number): Promise<ScheduledRow[]> =>
      pgx
        .db()
        .select()
        .from(scheduledReleases)
        .where(and(eq(scheduledReleases.state, 'pending'), lte(scheduledReleases.at, now)))
        .orderBy(
          asc(scheduledReleases.at),
          asc(scheduledReleases.createdAt),
          bytewise(scheduledReleases.id),
        )
        .limit(limit),
    async nextAt(): Promise<number | null> {
      const [r] = await pgx
        .db()
        .select({ at: min(scheduledReleases.at) })
        .from(scheduledReleases)
        .where(eq(scheduledReleases.state, 'pending'));
      return r?.at ?? null;
    },
    /**
     * Moves a pending one to a final state; false when it was no longer pending. The claim is the
     * conditional UPDATE itself: of two processes racing, the second waits for the first's row
     * lock, re-reads the row, finds it no longer pending and changes nothing (PG-42).
     */
    async finish(
      id: string,
      set: Pick<ScheduledRow, 'state'> &
        Partial<Pick<ScheduledRow, 'errorId' | 'errorMessage' | 'releaseSeq'>>,
      now: number,
    ): Promise<boolean> {
      const r = await pgx
        .db()
        .update(scheduledReleases)
        .set({ ...set, finishedAt: now })
        .where(and(eq(scheduledReleases.id, id), eq(scheduledReleases.state, 'pending')));
      return r.rowCount === 1;
    },
    async setReleaseSeq(id: string, releaseSeq: number | null): Promise<void> {
      await pgx
        .db()
        .update(scheduledReleases)
        .set({ releaseSeq })
        .where(eq(scheduledReleases.id, id));
    },

    async freeze(environmentId: string): Promise<FreezeWindowRow[]> {
      const [row] = await pgx
        .db()
        .select()
        .from(freezeWindows)
        .where(eq(freezeWindows.environmentId, environmentId));
      return row ? (JSON.parse(row.windows) as FreezeWindowRow[]) : [];
    },
    async putFreeze(
      environmentId: string,
      windows: FreezeWindowRow[],
      by: string,
      now: number,
    ): Promise<void> {
      const json = JSON.stringify(windows);
      await pgx
        .db()
        .insert(freezeWindows)
        .values({ environmentId, windows: json, updatedBy: by, updatedAt: now })
        .onConflictDoUpdate({
          target: freezeWindows.environmentId,
          set: { windows: json, updatedBy: by, updatedAt: now },
        });
    },
  } satisfies Async<ReturnType<typeof createScheduleStore>>;
}

export type PgScheduleStore = ReturnType<typeof createPgScheduleStore>;

import type { Async } from './port.ts';
import { and, asc, eq, lte, sql } from 'drizzle-orm';
import { freezeWindows, scheduledReleases } from '#schema/db/tables.ts';
import type { Db } from './db.ts';

export type ScheduledRow = typeof scheduledReleases.$inferSelect;
export interface FreezeWindowRow {
  from: number;
  to: number;
  reason: string | null;
}

/** Scheduled releases and freeze windows (SCHED); see server/domain/schedule.ts. */
export function createScheduleStore(db: Db) {
  return {
    insert(row: ScheduledRow): void {
      db.insert(scheduledReleases).values(row).run();
    },
    get(id: string): ScheduledRow | undefined {
      return db.select().from(scheduledReleases).where(eq(scheduledReleases.id, id)).get();
    },
    /** An environment's pending ones, soonest first. */
    pending(environmentId: string): ScheduledRow[] {
      return db
        .select()
        .from(scheduledReleases)
        .where(
          and(
            eq(scheduledReleases.environmentId, environmentId),
            eq(scheduledReleases.state, 'pending'),
          ),
        )
        .orderBy(asc(scheduledReleases.at), asc(scheduledReleases.createdAt))
        .all();
    },
    pendingCount(environmentId: string): number {
      return db
        .select({ n: sql<number>`count(*)` })
        .from(scheduledReleases)
        .where(
          and(
            eq(scheduledReleases.environmentId, environmentId),
            eq(scheduledReleases.state, 'pending'),
          ),
        )
        .get()!.n;
    },
    /** Pending ones due at `now`, oldest first (at most `limit`). */
    due(now: number, limit: number): ScheduledRow[] {
      return db
        .select()
        .from(scheduledReleases)
        .where(and(eq(scheduledReleases.state, 'pending'), lte(scheduledReleases.at, now)))
        .orderBy(asc(scheduledReleases.at))
        .limit(limit)
        .all();
    },
    /** When the next pending one is due (epoch ms), or null. */
    nextAt(): number | null {
      return (
        db
          .select({ at: sql<number | null>`min(${scheduledReleases.at})` })
          .from(scheduledReleases)
          .where(eq(scheduledReleases.state, 'pending'))
          .get()?.at ?? null
      );
    },
    /**
     * Moves a pending one to a final state; false when it was no longer pending (another process
     * or an earlier run claimed it). Run inside the move's transaction: the claim and the move
     * commit together.
     */
    finish(
      id: string,
      set: Pick<ScheduledRow, 'state'> &
        Partial<Pick<ScheduledRow, 'errorId' | 'errorMessage' | 'releaseSeq'>>,
      now: number,
    ): boolean {
      const r = db
        .update(scheduledReleases)
        .set({ ...set, finishedAt: now })
        .where(and(eq(scheduledReleases.id, id), eq(scheduledReleases.state, 'pending')))
        .run();
      return r.changes === 1;
    },
    setReleaseSeq(id: string, releaseSeq: number | null): void {
      db.update(scheduledReleases).set({ releaseSeq }).where(eq(scheduledReleases.id, id)).run();
    },

    freeze(environmentId: string): FreezeWindowRow[] {
      const row = db
        .select()
        .from(freezeWindows)
        .where(eq(freezeWindows.environmentId, environmentId))
        .get();
      return row ? (JSON.parse(row.windows) as FreezeWindowRow[]) : [];
    },
    putFreeze(environmentId: string, windows: FreezeWindowRow[], by: string, now: number): void {
      db.insert(freezeWindows)
        .values({ environmentId, windows: JSON.stringify(windows), updatedBy: by, updatedAt: now })
        .onConflictDoUpdate({
          target: freezeWindows.environmentId,
          set: { windows: JSON.stringify(windows), updatedBy: by, updatedAt: now },
        })
        .run();
    },
  };
}
/** The port the domain sees (PG-10). */
export type ScheduleStore = Async<ReturnType<typeof createScheduleStore>>;

import type { Async } from './port.ts';
import { and, asc, eq, gt, lt, max, min } from 'drizzle-orm';
import { projectEvents } from '#schema/db/tables.ts';
import type { Db } from './db.ts';

export type ProjectEventRow = typeof projectEvents.$inferSelect;

/** The project event log (see `projectEvents`). */
export function createEventStore(db: Db) {
  return {
    insert(row: Omit<ProjectEventRow, 'seq'>): ProjectEventRow {
      return db.insert(projectEvents).values(row).returning().get();
    },
    /** A project's events after `seq`, oldest first, at most `limit`. */
    after(projectId: string, seq: number, limit: number): ProjectEventRow[] {
      return db
        .select()
        .from(projectEvents)
        .where(and(eq(projectEvents.projectId, projectId), gt(projectEvents.seq, seq)))
        .orderBy(asc(projectEvents.seq))
        .limit(limit)
        .all();
    },
    /** The newest event's seq of any project (0 when there is none). */
    lastSeq(): number {
      return (
        db
          .select({ seq: max(projectEvents.seq) })
          .from(projectEvents)
          .get()?.seq ?? 0
      );
    },
    /** The oldest kept event's seq of any project (0 when there is none): a resume from before it missed pruned events. */
    firstSeq(): number {
      return (
        db
          .select({ seq: min(projectEvents.seq) })
          .from(projectEvents)
          .get()?.seq ?? 0
      );
    },
    /** Forgets events older than `before` (epoch ms). */
    prune(before: number): number {
      return db.delete(projectEvents).where(lt(projectEvents.createdAt, before)).run().changes;
    },
  };
}
/** The port the domain sees (PG-10). */
export type EventStore = Async<ReturnType<typeof createEventStore>>;

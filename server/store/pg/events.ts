import { and, asc, eq, gt, lt, max, min } from 'drizzle-orm';
import { projectEvents } from '#schema/db/pg-tables.ts';
import type { createEventStore, ProjectEventRow } from '../events.ts';
import type { Async } from '../port.ts';
import type { Postgres } from './db.ts';
import { lockFor } from './locks.ts';

/**
 * The project event log on PostgreSQL (PG-25). Readers page by seq (`after`, from `lastSeq`),
 * but an identity value is drawn when a row is inserted, not when it commits: without care a
 * reader could see seq 8 while seq 7 is still uncommitted, move its cursor past 7, and never
 * deliver it. So:
 * - an insert holds its project's lock to commit: a project's events commit in seq order, and a
 *   cursor at one of its events skips none of its later ones;
 * - an insert also holds the log's lock shared, and `lastSeq` (a cursor that may be another
 *   project's event) takes it exclusively: it waits until every insert in flight has committed
 *   or rolled back, so every seq below its answer is settled.
 */
export function createPgEventStore(pgx: Postgres) {
  return {
    insert(row: Omit<ProjectEventRow, 'seq'>) {
      return pgx.atomically(async () => {
        await lockFor(pgx, 'events', 'shared');
        await lockFor(pgx, `events:${row.projectId}`);
        const [inserted] = await pgx.db().insert(projectEvents).values(row).returning();
        return inserted!;
      });
    },
    after(projectId: string, seq: number, limit: number) {
      return pgx
        .db()
        .select()
        .from(projectEvents)
        .where(and(eq(projectEvents.projectId, projectId), gt(projectEvents.seq, seq)))
        .orderBy(asc(projectEvents.seq))
        .limit(limit);
    },
    lastSeq() {
      return pgx.atomically(async () => {
        await lockFor(pgx, 'events');
        const [row] = await pgx
          .db()
          .select({ seq: max(projectEvents.seq) })
          .from(projectEvents);
        return row?.seq ?? 0;
      });
    },
    async firstSeq() {
      const [row] = await pgx
        .db()
        .select({ seq: min(projectEvents.seq) })
        .from(projectEvents);
      return row?.seq ?? 0;
    },
    async prune(before: number) {
      const done = await pgx.db().delete(projectEvents).where(lt(projectEvents.createdAt, before));
      return done.rowCount ?? 0;
    },
  } satisfies Async<ReturnType<typeof createEventStore>>;
}

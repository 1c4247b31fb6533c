import { and, asc, eq, gt, lt, max, min } from 'drizzle-orm';
import { projectEvents } from '#schema/db/pg-tables.ts';
import type { createEventStore, ProjectEventRow } from '../events.ts';
import type { Async } from '../port.ts';
import type { Postgres } from './db.ts';
import { LOCK, lockForTransaction } from './locks.ts';

/**
 * The project event log on PostgreSQL (PG-25). Readers page by seq (`after`, from `lastSeq`);
 * an insert holds the ledger lock (locks.ts) to commit, so no reader's cursor moves past an event
 * that commits later with a lower seq (PG-29).
 */
export function createPgEventStore(pgx: Postgres) {
  return {
    insert(row: Omit<ProjectEventRow, 'seq'>) {
      return pgx.atomically(async () => {
        await lockForTransaction(pgx, LOCK.ledger);
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
    async lastSeq() {
      const [row] = await pgx
        .db()
        .select({ seq: max(projectEvents.seq) })
        .from(projectEvents);
      return row?.seq ?? 0;
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

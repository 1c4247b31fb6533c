import { and, desc, eq, gt, lt } from 'drizzle-orm';
import { auditEvents } from '#schema/db/pg-tables.ts';
import type { createAuditStore } from '../audit.ts';
import { auditRecord, type AuditInput } from '../audit-records.ts';
import type { Async } from '../port.ts';
import type { Postgres } from './db.ts';
import { LOCK, lockForTransaction } from './locks.ts';

/** The audit log on PostgreSQL (PG-24): one hash chain for the whole instance. */
export function createPgAuditStore(pgx: Postgres) {
  return {
    audit(e: AuditInput, now: number) {
      return pgx.atomically(async () => {
        // Before the head is read: two appends would otherwise read the same head (locks.ts).
        await lockForTransaction(pgx, LOCK.ledger);
        const [last] = await pgx
          .db()
          .select({ hash: auditEvents.hash })
          .from(auditEvents)
          .orderBy(desc(auditEvents.seq))
          .limit(1);
        const [row] = await pgx
          .db()
          .insert(auditEvents)
          .values(auditRecord(e, last?.hash, now))
          .returning();
        return row!;
      });
    },
    auditFor(environmentId: string, limit = 200, before: number | null = null) {
      return pgx
        .db()
        .select()
        .from(auditEvents)
        .where(
          before === null
            ? eq(auditEvents.environmentId, environmentId)
            : and(eq(auditEvents.environmentId, environmentId), lt(auditEvents.seq, before)),
        )
        .orderBy(desc(auditEvents.seq))
        .limit(limit);
    },
    async auditTimesSince(projectId: string, kind: string, since: number) {
      const rows = await pgx
        .db()
        .select({ createdAt: auditEvents.createdAt })
        .from(auditEvents)
        .where(
          and(
            eq(auditEvents.projectId, projectId),
            eq(auditEvents.kind, kind),
            gt(auditEvents.createdAt, since),
          ),
        )
        .orderBy(auditEvents.seq);
      return rows.map((r) => r.createdAt);
    },
    auditOfProject(projectId: string, limit = 500) {
      return pgx
        .db()
        .select()
        .from(auditEvents)
        .where(eq(auditEvents.projectId, projectId))
        .orderBy(desc(auditEvents.seq))
        .limit(limit);
    },
  } satisfies Async<ReturnType<typeof createAuditStore>>;
}

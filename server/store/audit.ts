import type { Async } from './port.ts';
import { and, desc, eq, gt, lt } from 'drizzle-orm';
import { auditEvents } from '#schema/db/tables.ts';
import type { Db } from './db.ts';
import { auditRecord, type AuditInput } from './audit-records.ts';

export type AuditRow = typeof auditEvents.$inferSelect;

/** The audit log: one hash chain for the whole instance. */
export function createAuditStore(db: Db) {
  return {
    /** Appends an audit event; its hash chains to the previous event of the whole instance. */
    audit(e: AuditInput, now: number): AuditRow {
      return db.transaction((tx) => {
        const last = tx
          .select({ hash: auditEvents.hash })
          .from(auditEvents)
          .orderBy(desc(auditEvents.seq))
          .limit(1)
          .get();
        return tx
          .insert(auditEvents)
          .values(auditRecord(e, last?.hash, now))
          .returning()
          .get();
      });
    },
    /** An environment's events before `before` (a seq; null: from the newest), newest first (VH-4). */
    auditFor(environmentId: string, limit = 200, before: number | null = null): AuditRow[] {
      return db
        .select()
        .from(auditEvents)
        .where(
          before === null
            ? eq(auditEvents.environmentId, environmentId)
            : and(eq(auditEvents.environmentId, environmentId), lt(auditEvents.seq, before)),
        )
        .orderBy(desc(auditEvents.seq))
        .limit(limit)
        .all();
    },
    /** When a project's events of one kind happened since `since` (for rates of actions that leave no other row). */
    auditTimesSince(projectId: string, kind: string, since: number): number[] {
      return db
        .select({ createdAt: auditEvents.createdAt })
        .from(auditEvents)
        .where(
          and(
            eq(auditEvents.projectId, projectId),
            eq(auditEvents.kind, kind),
            gt(auditEvents.createdAt, since),
          ),
        )
        .all()
        .map((r) => r.createdAt);
    },
    auditOfProject(projectId: string, limit = 500): AuditRow[] {
      return db
        .select()
        .from(auditEvents)
        .where(eq(auditEvents.projectId, projectId))
        .orderBy(desc(auditEvents.seq))
        .limit(limit)
        .all();
    },
  };
}

/** The port the domain sees (PG-10). */
export type AuditStore = Async<ReturnType<typeof createAuditStore>>;

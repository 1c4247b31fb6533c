import type { Async } from './port.ts';
import { and, eq, gt, inArray, sql } from 'drizzle-orm';
import {
  approvals,
  environmentChecks,
  gatePolicies,
  promotionRequests,
} from '#schema/db/tables.ts';
import type { Db } from './db.ts';
import { approvalUpdate, checkUpdate, gateUpdate, requestsToVoid } from './gate-rules.ts';

export type RequestRow = typeof promotionRequests.$inferSelect;
export type ApprovalRow = typeof approvals.$inferSelect;
export type CheckRow = typeof environmentChecks.$inferSelect;

/**
 * Gates: each environment's approval policy, the promotion requests into it and their approvals.
 * A request a move satisfies is closed inside the move's transaction: domain/approvals.ts `settle`
 * runs beside ReleaseStore.commitMove in the domain's `atomically` (PG-11), so these writes
 * commit or roll back with the move.
 */
export function createGateStore(db: Db) {
  return {
    gate(environmentId: string) {
      return db
        .select()
        .from(gatePolicies)
        .where(eq(gatePolicies.environmentId, environmentId))
        .get();
    },
    putGate(row: typeof gatePolicies.$inferInsert): void {
      db.insert(gatePolicies)
        .values(row)
        .onConflictDoUpdate({
          target: gatePolicies.environmentId,
          set: gateUpdate(row),
        })
        .run();
    },

    /** Records a check report: the latest per (environment, snapshot, name) wins. */
    putCheck(row: CheckRow): void {
      db.insert(environmentChecks)
        .values(row)
        .onConflictDoUpdate({
          target: [
            environmentChecks.environmentId,
            environmentChecks.snapshotId,
            environmentChecks.name,
          ],
          set: checkUpdate(row),
        })
        .run();
    },
    /** The checks reported on an environment for one snapshot, by name. */
    checks(environmentId: string, snapshotId: string): CheckRow[] {
      return db
        .select()
        .from(environmentChecks)
        .where(
          and(
            eq(environmentChecks.environmentId, environmentId),
            eq(environmentChecks.snapshotId, snapshotId),
          ),
        )
        .orderBy(environmentChecks.name)
        .all();
    },
    /** How many check names an environment has for one snapshot. */
    checkCount(environmentId: string, snapshotId: string): number {
      return (
        db
          .select({ n: sql<number>`count(*)` })
          .from(environmentChecks)
          .where(
            and(
              eq(environmentChecks.environmentId, environmentId),
              eq(environmentChecks.snapshotId, snapshotId),
            ),
          )
          .get()?.n ?? 0
      );
    },

    insertRequest(row: RequestRow): void {
      db.insert(promotionRequests).values(row).run();
    },
    request(id: string): RequestRow | undefined {
      return db.select().from(promotionRequests).where(eq(promotionRequests.id, id)).get();
    },
    /** When requests out of an environment were made since `since`. */
    requestTimesFrom(sourceEnvironmentId: string, since: number): number[] {
      return db
        .select({ t: promotionRequests.createdAt })
        .from(promotionRequests)
        .where(
          and(
            eq(promotionRequests.sourceEnvironmentId, sourceEnvironmentId),
            gt(promotionRequests.createdAt, since),
          ),
        )
        .all()
        .map((r) => r.t);
    },
    openRequests(projectId: string): RequestRow[] {
      return db
        .select()
        .from(promotionRequests)
        .where(and(eq(promotionRequests.projectId, projectId), eq(promotionRequests.state, 'open')))
        .all();
    },
    closeRequest(
      id: string,
      state: 'done' | 'rejected' | 'voided',
      reason: string,
      now: number,
    ): void {
      db.update(promotionRequests)
        .set({ state, closedReason: reason, closedAt: now })
        .where(and(eq(promotionRequests.id, id), eq(promotionRequests.state, 'open')))
        .run();
    },
    /** Voids open requests whose source moved: their approvals were for another snapshot. */
    voidRequestsFrom(
      sourceEnvironmentId: string,
      exceptSnapshotId: string | null,
      now: number,
    ): string[] {
      const open = db
        .select()
        .from(promotionRequests)
        .where(
          and(
            eq(promotionRequests.sourceEnvironmentId, sourceEnvironmentId),
            eq(promotionRequests.state, 'open'),
          ),
        )
        .all();
      const voided = requestsToVoid(open, exceptSnapshotId);
      if (voided.length > 0)
        db.update(promotionRequests)
          .set({ state: 'voided', closedReason: 'the source moved', closedAt: now })
          .where(inArray(promotionRequests.id, voided))
          .run();
      return voided;
    },
    putApproval(row: ApprovalRow): void {
      db.insert(approvals)
        .values(row)
        .onConflictDoUpdate({
          target: [approvals.requestId, approvals.userId],
          set: approvalUpdate(row),
        })
        .run();
    },
    approvals(requestIds: readonly string[]): ApprovalRow[] {
      if (requestIds.length === 0) return [];
      return db
        .select()
        .from(approvals)
        .where(inArray(approvals.requestId, [...requestIds]))
        .all();
    },
  };
}

/** The port the domain sees (PG-10). */
export type GateStore = Async<ReturnType<typeof createGateStore>>;

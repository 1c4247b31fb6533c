import { and, asc, count, eq, gt, inArray, sql } from 'drizzle-orm';
import {
  approvals,
  environmentChecks,
  gatePolicies,
  promotionRequests,
} from '#schema/db/pg-tables.ts';
import type { ApprovalRow, CheckRow, createGateStore, RequestRow } from '../gates.ts';
import { approvalUpdate, checkUpdate, gateUpdate, requestsToVoid } from '../gate-rules.ts';
import type { Async } from '../port.ts';
import type { Postgres } from './db.ts';
import { LOCK, lockBeforeRead } from './locks.ts';

/**
 * Gates on PostgreSQL (PG-26). A request a move satisfies is closed inside the move's
 * transaction (the domain's `atomically` around a move): these queries find it through pgx.db().
 */
export function createPgGateStore(pgx: Postgres) {
  return {
    async gate(environmentId: string) {
      const [row] = await pgx
        .db()
        .select()
        .from(gatePolicies)
        .where(eq(gatePolicies.environmentId, environmentId));
      return row;
    },
    async putGate(row: typeof gatePolicies.$inferInsert) {
      await pgx
        .db()
        .insert(gatePolicies)
        .values(row)
        .onConflictDoUpdate({ target: gatePolicies.environmentId, set: gateUpdate(row) });
    },
    async putCheck(row: CheckRow) {
      await pgx
        .db()
        .insert(environmentChecks)
        .values(row)
        .onConflictDoUpdate({
          target: [
            environmentChecks.environmentId,
            environmentChecks.snapshotId,
            environmentChecks.name,
          ],
          set: checkUpdate(row),
        });
    },
    /** Inside a transaction, under the snapshot's limit lock in this environment (PG-130, PG-136). */
    async checks(environmentId: string, snapshotId: string) {
      await lockBeforeRead(pgx, LOCK.limit('checks', `${environmentId}/${snapshotId}`));
      return await pgx
        .db()
        .select()
        .from(environmentChecks)
        .where(
          and(
            eq(environmentChecks.environmentId, environmentId),
            eq(environmentChecks.snapshotId, snapshotId),
          ),
        )
        // By code point, as SQLite compares text, whatever the database's collation.
        .orderBy(sql`${environmentChecks.name} collate "C"`);
    },
    async checkCount(environmentId: string, snapshotId: string) {
      const [row] = await pgx
        .db()
        .select({ n: count() })
        .from(environmentChecks)
        .where(
          and(
            eq(environmentChecks.environmentId, environmentId),
            eq(environmentChecks.snapshotId, snapshotId),
          ),
        );
      return row?.n ?? 0;
    },

    async insertRequest(row: RequestRow) {
      await pgx.db().insert(promotionRequests).values(row);
    },
    async request(id: string) {
      const [row] = await pgx
        .db()
        .select()
        .from(promotionRequests)
        .where(eq(promotionRequests.id, id));
      return row;
    },
    async requestTimesFrom(sourceEnvironmentId: string, since: number) {
      await lockBeforeRead(pgx, LOCK.limit('approval-requests', sourceEnvironmentId));
      const rows = await pgx
        .db()
        .select({ t: promotionRequests.createdAt })
        .from(promotionRequests)
        .where(
          and(
            eq(promotionRequests.sourceEnvironmentId, sourceEnvironmentId),
            gt(promotionRequests.createdAt, since),
          ),
        )
        .orderBy(asc(promotionRequests.createdAt));
      return rows.map((r) => r.t);
    },
    /**
     * Inside a transaction, under the ledger lock (PG-137): a new request replaces the open one for
     * its move, and two racing requests must not both find none. The ledger lock, not one of its
     * own: the request's transaction audits (the ledger) next anyway.
     */
    async openRequests(projectId: string) {
      await lockBeforeRead(pgx, LOCK.ledger);
      return await pgx
        .db()
        .select()
        .from(promotionRequests)
        .where(and(eq(promotionRequests.projectId, projectId), eq(promotionRequests.state, 'open')))
        .orderBy(asc(promotionRequests.createdAt), asc(promotionRequests.id));
    },
    async closeRequest(
      id: string,
      state: 'done' | 'rejected' | 'voided',
      reason: string,
      now: number,
    ) {
      // Only an open request closes: of two racing decisions the second changes nothing.
      await pgx
        .db()
        .update(promotionRequests)
        .set({ state, closedReason: reason, closedAt: now })
        .where(and(eq(promotionRequests.id, id), eq(promotionRequests.state, 'open')));
    },
    /**
     * Voids open requests whose source moved. A request may close (approved and done, rejected)
     * between the read and the update here; the update re-checks `open`, so it never turns a
     * closed request into a voided one, and answers only the ones it voided.
     */
    async voidRequestsFrom(
      sourceEnvironmentId: string,
      exceptSnapshotId: string | null,
      now: number,
    ) {
      const open = await pgx
        .db()
        .select()
        .from(promotionRequests)
        .where(
          and(
            eq(promotionRequests.sourceEnvironmentId, sourceEnvironmentId),
            eq(promotionRequests.state, 'open'),
          ),
        )
        .orderBy(asc(promotionRequests.createdAt), asc(promotionRequests.id));
      const candidates = requestsToVoid(open, exceptSnapshotId);
      if (candidates.length === 0) return [];
      const done = await pgx
        .db()
        .update(promotionRequests)
        .set({ state: 'voided', closedReason: 'the source moved', closedAt: now })
        .where(and(inArray(promotionRequests.id, candidates), eq(promotionRequests.state, 'open')))
        .returning({ id: promotionRequests.id });
      const voided = new Set(done.map((r) => r.id));
      return candidates.filter((id) => voided.has(id));
    },
    async putApproval(row: ApprovalRow) {
      await pgx
        .db()
        .insert(approvals)
        .values(row)
        .onConflictDoUpdate({
          target: [approvals.requestId, approvals.userId],
          set: approvalUpdate(row),
        });
    },
    async approvals(requestIds: readonly string[]) {
      if (requestIds.length === 0) return [];
      return pgx
        .db()
        .select()
        .from(approvals)
        .where(inArray(approvals.requestId, [...requestIds]))
        .orderBy(asc(approvals.createdAt), asc(approvals.requestId), asc(approvals.userId));
    },
  } satisfies Async<ReturnType<typeof createGateStore>>;
}

import { and, count, desc, eq, gt, inArray, isNull } from 'drizzle-orm';
import { approvals, auditEvents, feedback, gatePolicies, invitations, projectMembers, promotionRequests, shareLinks } from '#schema/db/tables.ts';
import { canonicalJson } from '#schema/content/canonical.ts';
import { sha256 } from '../lib/hash.ts';
import type { Db } from './db.ts';

export type MemberRow = typeof projectMembers.$inferSelect;
export type InvitationRow = typeof invitations.$inferSelect;
export type AuditRow = typeof auditEvents.$inferSelect;
export type RequestRow = typeof promotionRequests.$inferSelect;
export type ApprovalRow = typeof approvals.$inferSelect;
export type ShareLinkRow = typeof shareLinks.$inferSelect;
export type FeedbackRow = typeof feedback.$inferSelect;

/** Members and roles, invitations, audit, gates and approvals, share links. */
export function createAccessStore(db: Db) {
  return {
    member(projectId: string, userId: string): MemberRow | undefined {
      return db.select().from(projectMembers).where(and(eq(projectMembers.projectId, projectId), eq(projectMembers.userId, userId))).get();
    },
    members(projectId: string): MemberRow[] {
      return db.select().from(projectMembers).where(eq(projectMembers.projectId, projectId)).all();
    },
    memberships(userId: string): MemberRow[] {
      return db.select().from(projectMembers).where(eq(projectMembers.userId, userId)).all();
    },
    putMember(row: MemberRow): void {
      db.insert(projectMembers).values(row).onConflictDoUpdate({ target: [projectMembers.projectId, projectMembers.userId], set: { roles: row.roles, updatedBy: row.updatedBy, updatedAt: row.updatedAt } }).run();
    },
    deleteMember(projectId: string, userId: string): boolean {
      return db.delete(projectMembers).where(and(eq(projectMembers.projectId, projectId), eq(projectMembers.userId, userId))).run().changes > 0;
    },

    insertInvitation(row: InvitationRow): void {
      db.insert(invitations).values(row).run();
    },
    invitation(tokenHash: string): InvitationRow | undefined {
      return db.select().from(invitations).where(eq(invitations.tokenHash, tokenHash)).get();
    },
    /** Unused, unexpired invitations (few: each project's are bounded). */
    pendingInvitations(now: number): InvitationRow[] {
      return db.select().from(invitations).where(and(isNull(invitations.usedAt), gt(invitations.expiresAt, now))).all();
    },
    /** Invitations made since `since`, used or not. */
    invitationsSince(since: number): InvitationRow[] {
      return db.select().from(invitations).where(gt(invitations.createdAt, since)).all();
    },
    /** Marks it used only if still unused: single use even under concurrent accepts. */
    useInvitation(id: string, now: number): boolean {
      return db.update(invitations).set({ usedAt: now }).where(and(eq(invitations.id, id), isNull(invitations.usedAt))).run().changes > 0;
    },

    /** Appends an audit event; its hash chains to the previous event of the whole instance. */
    audit(e: { projectId: string | null; environmentId: string | null; kind: string; actorId: string | null; subject: unknown }, now: number): AuditRow {
      return db.transaction((tx) => {
        const last = tx.select({ hash: auditEvents.hash }).from(auditEvents).orderBy(desc(auditEvents.seq)).limit(1).get();
        const prevHash = last?.hash ?? '0'.repeat(64);
        const row = { projectId: e.projectId, environmentId: e.environmentId, kind: e.kind, actorId: e.actorId, subject: canonicalJson(e.subject ?? null), createdAt: now, prevHash };
        return tx.insert(auditEvents).values({ ...row, hash: sha256(prevHash + canonicalJson(row)) }).returning().get();
      });
    },
    auditFor(environmentId: string, limit = 200): AuditRow[] {
      return db.select().from(auditEvents).where(eq(auditEvents.environmentId, environmentId)).orderBy(desc(auditEvents.seq)).limit(limit).all();
    },
    auditOfProject(projectId: string, limit = 500): AuditRow[] {
      return db.select().from(auditEvents).where(eq(auditEvents.projectId, projectId)).orderBy(desc(auditEvents.seq)).limit(limit).all();
    },

    gate(environmentId: string) {
      return db.select().from(gatePolicies).where(eq(gatePolicies.environmentId, environmentId)).get();
    },
    putGate(row: typeof gatePolicies.$inferInsert): void {
      db.insert(gatePolicies).values(row).onConflictDoUpdate({ target: gatePolicies.environmentId, set: { requiredApprovals: row.requiredApprovals, allowSelfApproval: row.allowSelfApproval, updatedBy: row.updatedBy, updatedAt: row.updatedAt } }).run();
    },

    insertRequest(row: RequestRow): void {
      db.insert(promotionRequests).values(row).run();
    },
    request(id: string): RequestRow | undefined {
      return db.select().from(promotionRequests).where(eq(promotionRequests.id, id)).get();
    },
    /** When requests out of an environment were made since `since`. */
    requestTimesFrom(sourceEnvironmentId: string, since: number): number[] {
      return db.select({ t: promotionRequests.createdAt }).from(promotionRequests).where(and(eq(promotionRequests.sourceEnvironmentId, sourceEnvironmentId), gt(promotionRequests.createdAt, since))).all().map((r) => r.t);
    },
    openRequests(projectId: string): RequestRow[] {
      return db.select().from(promotionRequests).where(and(eq(promotionRequests.projectId, projectId), eq(promotionRequests.state, 'open'))).all();
    },
    closeRequest(id: string, state: 'done' | 'rejected' | 'voided', reason: string, now: number): void {
      db.update(promotionRequests).set({ state, closedReason: reason, closedAt: now }).where(and(eq(promotionRequests.id, id), eq(promotionRequests.state, 'open'))).run();
    },
    /** Voids open requests whose source moved: their approvals were for another snapshot. */
    voidRequestsFrom(sourceEnvironmentId: string, exceptSnapshotId: string | null, now: number): string[] {
      const open = db.select().from(promotionRequests).where(and(eq(promotionRequests.sourceEnvironmentId, sourceEnvironmentId), eq(promotionRequests.state, 'open'))).all();
      // A hotfix request follows the hotfix draft, not the pointer: it is checked when the hotfix publishes.
      const voided = open.filter((r) => r.kind !== 'hotfix' && r.snapshotId !== exceptSnapshotId).map((r) => r.id);
      if (voided.length > 0) db.update(promotionRequests).set({ state: 'voided', closedReason: 'the source moved', closedAt: now }).where(inArray(promotionRequests.id, voided)).run();
      return voided;
    },
    putApproval(row: ApprovalRow): void {
      db.insert(approvals).values(row).onConflictDoUpdate({ target: [approvals.requestId, approvals.userId], set: { decision: row.decision, comment: row.comment, createdAt: row.createdAt } }).run();
    },
    approvals(requestIds: readonly string[]): ApprovalRow[] {
      if (requestIds.length === 0) return [];
      return db.select().from(approvals).where(inArray(approvals.requestId, [...requestIds])).all();
    },

    insertShareLink(row: ShareLinkRow): void {
      db.insert(shareLinks).values(row).run();
    },
    shareLinkByToken(tokenHash: string): ShareLinkRow | undefined {
      return db.select().from(shareLinks).where(eq(shareLinks.tokenHash, tokenHash)).get();
    },
    shareLink(id: string): ShareLinkRow | undefined {
      return db.select().from(shareLinks).where(eq(shareLinks.id, id)).get();
    },
    shareLinks(environmentId: string): ShareLinkRow[] {
      return db.select().from(shareLinks).where(eq(shareLinks.environmentId, environmentId)).orderBy(desc(shareLinks.createdAt)).all();
    },
    /** Links that still open: neither revoked nor expired. */
    activeShareLinkCount(environmentId: string, now: number): number {
      return db.select({ n: count() }).from(shareLinks).where(and(eq(shareLinks.environmentId, environmentId), isNull(shareLinks.revokedAt), gt(shareLinks.expiresAt, now))).get()?.n ?? 0;
    },
    revokeShareLink(id: string, now: number): boolean {
      return db.update(shareLinks).set({ revokedAt: now }).where(and(eq(shareLinks.id, id), isNull(shareLinks.revokedAt))).run().changes > 0;
    },
    insertFeedback(row: FeedbackRow): void {
      db.insert(feedback).values(row).run();
    },
    feedback(environmentId: string): FeedbackRow[] {
      return db.select().from(feedback).where(eq(feedback.environmentId, environmentId)).orderBy(desc(feedback.createdAt)).all();
    },
    /** One link's feedback (the environment narrows it to the feedback_env index). */
    feedbackOfLink(environmentId: string, shareLinkId: string): FeedbackRow[] {
      return db.select().from(feedback).where(and(eq(feedback.environmentId, environmentId), eq(feedback.shareLinkId, shareLinkId))).orderBy(desc(feedback.createdAt)).all();
    },
    feedbackCountOfLink(environmentId: string, shareLinkId: string): number {
      return db.select({ n: count() }).from(feedback).where(and(eq(feedback.environmentId, environmentId), eq(feedback.shareLinkId, shareLinkId))).get()?.n ?? 0;
    },
    /** When the link's posts since `since` were made. */
    feedbackTimesOfLink(environmentId: string, shareLinkId: string, since: number): number[] {
      return db.select({ t: feedback.createdAt }).from(feedback).where(and(eq(feedback.environmentId, environmentId), eq(feedback.shareLinkId, shareLinkId), gt(feedback.createdAt, since))).all().map((r) => r.t);
    },
  };
}

export type AccessStore = ReturnType<typeof createAccessStore>;

import type { Async } from './port.ts';
import { and, asc, eq, gt, isNull, sql } from 'drizzle-orm';
import { invitations } from '#schema/db/tables.ts';
import type { Db } from './db.ts';

export type InvitationRow = typeof invitations.$inferSelect;

/** Invitations: single use, expiring, stored by their token's hash. */
export function createInvitationStore(db: Db) {
  return {
    insertInvitation(row: InvitationRow): void {
      db.insert(invitations).values(row).run();
    },
    invitation(tokenHash: string): InvitationRow | undefined {
      return db.select().from(invitations).where(eq(invitations.tokenHash, tokenHash)).get();
    },
    /** Unused, unexpired invitations (few: each project's are bounded). */
    pendingInvitations(now: number): InvitationRow[] {
      return db
        .select()
        .from(invitations)
        .where(and(isNull(invitations.usedAt), gt(invitations.expiresAt, now)))
        .all();
    },
    /** One invitation by id (revoke, a new link). */
    invitationById(id: string): InvitationRow | undefined {
      return db.select().from(invitations).where(eq(invitations.id, id)).get();
    },
    /** A project's unused, unexpired invitations, oldest first, at most `limit`. */
    pendingInto(projectId: string, now: number, limit: number): InvitationRow[] {
      return db
        .select()
        .from(invitations)
        .where(
          and(
            isNull(invitations.usedAt),
            gt(invitations.expiresAt, now),
            sql`json_extract(${invitations.grant}, '$.projectId') = ${projectId}`,
          ),
        )
        .orderBy(asc(invitations.createdAt))
        .limit(limit)
        .all();
    },
    /** Ends a pending invitation now (revoked: it counts as expired); false if it was not pending. */
    endInvitation(id: string, now: number): boolean {
      return (
        db
          .update(invitations)
          .set({ expiresAt: now })
          .where(
            and(eq(invitations.id, id), isNull(invitations.usedAt), gt(invitations.expiresAt, now)),
          )
          .run().changes > 0
      );
    },
    /** A new token for a pending invitation: the old link stops working. False if not pending. */
    replaceToken(id: string, tokenHash: string, now: number): boolean {
      return (
        db
          .update(invitations)
          .set({ tokenHash })
          .where(
            and(eq(invitations.id, id), isNull(invitations.usedAt), gt(invitations.expiresAt, now)),
          )
          .run().changes > 0
      );
    },
    /** Invitations made since `since`, used or not. */
    invitationsSince(since: number): InvitationRow[] {
      return db.select().from(invitations).where(gt(invitations.createdAt, since)).all();
    },
    /**
     * Marks it used only if still unused, unexpired (not revoked) and still behind this token (no
     * new link since): single use even under concurrent accepts, revocations and new links.
     */
    useInvitation(id: string, tokenHash: string, now: number): boolean {
      return (
        db
          .update(invitations)
          .set({ usedAt: now })
          .where(
            and(
              eq(invitations.id, id),
              eq(invitations.tokenHash, tokenHash),
              isNull(invitations.usedAt),
              gt(invitations.expiresAt, now),
            ),
          )
          .run().changes > 0
      );
    },
  };
}

/** The port the domain sees (PG-10). */
export type InvitationStore = Async<ReturnType<typeof createInvitationStore>>;

import { and, eq, gt, isNull } from 'drizzle-orm';
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
    /** Invitations made since `since`, used or not. */
    invitationsSince(since: number): InvitationRow[] {
      return db.select().from(invitations).where(gt(invitations.createdAt, since)).all();
    },
    /** Marks it used only if still unused: single use even under concurrent accepts. */
    useInvitation(id: string, now: number): boolean {
      return (
        db
          .update(invitations)
          .set({ usedAt: now })
          .where(and(eq(invitations.id, id), isNull(invitations.usedAt)))
          .run().changes > 0
      );
    },
  };
}

export type InvitationStore = ReturnType<typeof createInvitationStore>;

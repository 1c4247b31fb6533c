import { and, count, desc, eq, gt, isNull } from 'drizzle-orm';
import { feedback, shareLinks } from '#schema/db/tables.ts';
import type { Db } from './db.ts';

export type ShareLinkRow = typeof shareLinks.$inferSelect;
export type FeedbackRow = typeof feedback.$inferSelect;

/** Share links (stored by their token's hash) and the feedback posted through them. */
export function createShareStore(db: Db) {
  return {
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
      return db
        .select()
        .from(shareLinks)
        .where(eq(shareLinks.environmentId, environmentId))
        .orderBy(desc(shareLinks.createdAt))
        .all();
    },
    /** Links that still open: neither revoked nor expired. */
    activeShareLinkCount(environmentId: string, now: number): number {
      return (
        db
          .select({ n: count() })
          .from(shareLinks)
          .where(
            and(
              eq(shareLinks.environmentId, environmentId),
              isNull(shareLinks.revokedAt),
              gt(shareLinks.expiresAt, now),
            ),
          )
          .get()?.n ?? 0
      );
    },
    revokeShareLink(id: string, now: number): boolean {
      return (
        db
          .update(shareLinks)
          .set({ revokedAt: now })
          .where(and(eq(shareLinks.id, id), isNull(shareLinks.revokedAt)))
          .run().changes > 0
      );
    },
    insertFeedback(row: FeedbackRow): void {
      db.insert(feedback).values(row).run();
    },
    feedback(environmentId: string): FeedbackRow[] {
      return db
        .select()
        .from(feedback)
        .where(eq(feedback.environmentId, environmentId))
        .orderBy(desc(feedback.createdAt))
        .all();
    },
    /** One link's feedback (the environment narrows it to the feedback_env index). */
    feedbackOfLink(environmentId: string, shareLinkId: string): FeedbackRow[] {
      return db
        .select()
        .from(feedback)
        .where(
          and(eq(feedback.environmentId, environmentId), eq(feedback.shareLinkId, shareLinkId)),
        )
        .orderBy(desc(feedback.createdAt))
        .all();
    },
    feedbackById(id: string): FeedbackRow | undefined {
      return db.select().from(feedback).where(eq(feedback.id, id)).get();
    },
    feedbackCountOfLink(environmentId: string, shareLinkId: string): number {
      return (
        db
          .select({ n: count() })
          .from(feedback)
          .where(
            and(eq(feedback.environmentId, environmentId), eq(feedback.shareLinkId, shareLinkId)),
          )
          .get()?.n ?? 0
      );
    },
    /** When the link's posts since `since` were made. */
    feedbackTimesOfLink(environmentId: string, shareLinkId: string, since: number): number[] {
      return db
        .select({ t: feedback.createdAt })
        .from(feedback)
        .where(
          and(
            eq(feedback.environmentId, environmentId),
            eq(feedback.shareLinkId, shareLinkId),
            gt(feedback.createdAt, since),
          ),
        )
        .all()
        .map((r) => r.t);
    },
  };
}

export type ShareStore = ReturnType<typeof createShareStore>;

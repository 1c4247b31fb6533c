import type { Async } from './port.ts';
import { and, asc, count, desc, eq, gt, inArray, isNotNull, isNull } from 'drizzle-orm';
import { feedback, feedbackReplies, shareLinks } from '#schema/db/tables.ts';
import type { Db } from './db.ts';

export type ShareLinkRow = typeof shareLinks.$inferSelect;
export type FeedbackRow = typeof feedback.$inferSelect;
export type FeedbackReplyRow = typeof feedbackReplies.$inferSelect;

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
    /** These links (of any environment), for naming the link a comment came through. */
    shareLinksByIds(ids: string[]): ShareLinkRow[] {
      if (ids.length === 0) return [];
      return db.select().from(shareLinks).where(inArray(shareLinks.id, ids)).all();
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
    /** An environment's feedback, newest first, at most `limit`; `open`/`resolved` narrow it. */
    feedback(
      environmentId: string,
      status: 'open' | 'resolved' | 'all' = 'all',
      limit = 500,
    ): FeedbackRow[] {
      return db
        .select()
        .from(feedback)
        .where(
          and(
            eq(feedback.environmentId, environmentId),
            status === 'open'
              ? isNull(feedback.resolvedAt)
              : status === 'resolved'
                ? isNotNull(feedback.resolvedAt)
                : undefined,
          ),
        )
        .orderBy(desc(feedback.createdAt))
        .limit(limit)
        .all();
    },
    feedbackById(id: string): FeedbackRow | undefined {
      return db.select().from(feedback).where(eq(feedback.id, id)).get();
    },
    /** Open (unresolved) feedback per environment, for the board. */
    openFeedbackCounts(environmentIds: string[]): Record<string, number> {
      if (environmentIds.length === 0) return {};
      const rows = db
        .select({ env: feedback.environmentId, n: count() })
        .from(feedback)
        .where(and(inArray(feedback.environmentId, environmentIds), isNull(feedback.resolvedAt)))
        .groupBy(feedback.environmentId)
        .all();
      return Object.fromEntries(rows.map((r) => [r.env, r.n]));
    },
    feedbackCounts(environmentId: string): { open: number; resolved: number } {
      // Both from indexes (feedback_open, feedback_env), never reading the comments themselves.
      const open =
        db
          .select({ n: count() })
          .from(feedback)
          .where(and(eq(feedback.environmentId, environmentId), isNull(feedback.resolvedAt)))
          .get()?.n ?? 0;
      const all =
        db
          .select({ n: count() })
          .from(feedback)
          .where(eq(feedback.environmentId, environmentId))
          .get()?.n ?? 0;
      return { open, resolved: all - open };
    },
    setFeedbackResolved(id: string, by: string | null, at: number | null): boolean {
      return (
        db.update(feedback).set({ resolvedAt: at, resolvedBy: by }).where(eq(feedback.id, id)).run()
          .changes > 0
      );
    },
    insertReply(row: FeedbackReplyRow): void {
      db.insert(feedbackReplies).values(row).run();
    },
    replyCount(feedbackId: string): number {
      return (
        db
          .select({ n: count() })
          .from(feedbackReplies)
          .where(eq(feedbackReplies.feedbackId, feedbackId))
          .get()?.n ?? 0
      );
    },
    /** The replies to these feedback posts, oldest first. */
    repliesOf(feedbackIds: string[]): FeedbackReplyRow[] {
      if (feedbackIds.length === 0) return [];
      const out: FeedbackReplyRow[] = [];
      // SQLite bounds a statement's parameters: ask in chunks.
      for (let i = 0; i < feedbackIds.length; i += 500)
        out.push(
          ...db
            .select()
            .from(feedbackReplies)
            .where(inArray(feedbackReplies.feedbackId, feedbackIds.slice(i, i + 500)))
            .orderBy(asc(feedbackReplies.createdAt))
            .all(),
        );
      return out;
    },
    /** One link's feedback, newest first, at most `limit` (the environment narrows it to the feedback_env index). */
    feedbackOfLink(environmentId: string, shareLinkId: string, limit = 1000): FeedbackRow[] {
      return db
        .select()
        .from(feedback)
        .where(
          and(eq(feedback.environmentId, environmentId), eq(feedback.shareLinkId, shareLinkId)),
        )
        .orderBy(desc(feedback.createdAt))
        .limit(limit)
        .all();
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

/** The port the domain sees (PG-10). */
export type ShareStore = Async<ReturnType<typeof createShareStore>>;

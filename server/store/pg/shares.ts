import { and, asc, count, desc, eq, gt, inArray, isNotNull, isNull, sql } from 'drizzle-orm';
import { feedback, feedbackReplies, shareLinks } from '#schema/db/pg-tables.ts';
import type { Async } from '../port.ts';
import type { createShareStore, FeedbackReplyRow, FeedbackRow, ShareLinkRow } from '../shares.ts';
import type { Postgres } from './db.ts';
import { LOCK, lockBeforeRead } from './locks.ts';

/** Share links and their feedback on PostgreSQL (PG-36): store/shares.ts's answers. */
export function createPgShareStore(pgx: Postgres) {
  const ofLink = (environmentId: string, shareLinkId: string) =>
    and(eq(feedback.environmentId, environmentId), eq(feedback.shareLinkId, shareLinkId));
  return {
    async insertShareLink(row: ShareLinkRow) {
      await pgx.db().insert(shareLinks).values(row);
    },
    async shareLinkByToken(tokenHash: string) {
      return (
        await pgx.db().select().from(shareLinks).where(eq(shareLinks.tokenHash, tokenHash))
      )[0];
    },
    async shareLink(id: string) {
      return (await pgx.db().select().from(shareLinks).where(eq(shareLinks.id, id)))[0];
    },
    async shareLinks(environmentId: string) {
      return await pgx
        .db()
        .select()
        .from(shareLinks)
        .where(eq(shareLinks.environmentId, environmentId))
        .orderBy(desc(shareLinks.createdAt));
    },
    async shareLinksByIds(ids: string[]) {
      if (ids.length === 0) return [];
      // In id order, as SQLite looks each up in its primary key index.
      return await pgx
        .db()
        .select()
        .from(shareLinks)
        .where(inArray(shareLinks.id, ids))
        .orderBy(shareLinks.id);
    },
    /** Inside a transaction, under the scope's limit lock (PG-130). */
    async activeShareLinkCount(environmentId: string, now: number) {
      await lockBeforeRead(pgx, LOCK.limit('share-links', environmentId));
      const rows = await pgx
        .db()
        .select({ n: count() })
        .from(shareLinks)
        .where(
          and(
            eq(shareLinks.environmentId, environmentId),
            isNull(shareLinks.revokedAt),
            gt(shareLinks.expiresAt, now),
          ),
        );
      return rows[0]?.n ?? 0;
    },
    /** A conditional UPDATE: of racing revocations one answers true. */
    async revokeShareLink(id: string, now: number) {
      const r = await pgx
        .db()
        .update(shareLinks)
        .set({ revokedAt: now })
        .where(and(eq(shareLinks.id, id), isNull(shareLinks.revokedAt)));
      return (r.rowCount ?? 0) > 0;
    },
    async insertFeedback(row: FeedbackRow) {
      await pgx.db().insert(feedback).values(row);
    },
    async feedback(
      environmentId: string,
      status: 'open' | 'resolved' | 'all' = 'all',
      limit = 500,
    ) {
      return await pgx
        .db()
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
        .limit(limit);
    },
    async feedbackById(id: string) {
      return (await pgx.db().select().from(feedback).where(eq(feedback.id, id)))[0];
    },
    async openFeedbackCounts(environmentIds: string[]) {
      if (environmentIds.length === 0) return {};
      const rows = await pgx
        .db()
        .select({ env: feedback.environmentId, n: count() })
        .from(feedback)
        .where(and(inArray(feedback.environmentId, environmentIds), isNull(feedback.resolvedAt)))
        .groupBy(feedback.environmentId);
      return Object.fromEntries(rows.map((r) => [r.env, r.n]));
    },
    /**
     * Both counts in one statement, so from one snapshot: as two statements under READ COMMITTED
     * a comment resolved or posted between them would skew `resolved`. Each count is its own
     * subquery, so each still comes from its index (feedback_open, feedback_env).
     */
    async feedbackCounts(environmentId: string) {
      const r = await pgx.db().execute<{ open: number; total: number }>(sql`
        select
          (select count(*)::int from ${feedback}
            where ${feedback.environmentId} = ${environmentId} and ${feedback.resolvedAt} is null) as open,
          (select count(*)::int from ${feedback}
            where ${feedback.environmentId} = ${environmentId}) as total`);
      const { open, total } = r.rows[0]!;
      return { open, resolved: total - open };
    },
    async setFeedbackResolved(id: string, by: string | null, at: number | null) {
      const r = await pgx
        .db()
        .update(feedback)
        .set({ resolvedAt: at, resolvedBy: by })
        .where(eq(feedback.id, id));
      return (r.rowCount ?? 0) > 0;
    },
    async insertReply(row: FeedbackReplyRow) {
      await pgx.db().insert(feedbackReplies).values(row);
    },
    /** Inside a transaction, under the scope's limit lock (PG-130). */
    async replyCount(feedbackId: string) {
      await lockBeforeRead(pgx, LOCK.limit('replies', feedbackId));
      const rows = await pgx
        .db()
        .select({ n: count() })
        .from(feedbackReplies)
        .where(eq(feedbackReplies.feedbackId, feedbackId));
      return rows[0]?.n ?? 0;
    },
    /**
     * The replies to these feedback posts, oldest first. One array parameter, so no chunks (SQLite
     * asks 500 ids at a time for its parameter bound): each post's replies come in the same order.
     */
    async repliesOf(feedbackIds: string[]) {
      if (feedbackIds.length === 0) return [];
      return await pgx
        .db()
        .select()
        .from(feedbackReplies)
        .where(sql`${feedbackReplies.feedbackId} = any(${sql.param(feedbackIds)}::text[])`)
        .orderBy(asc(feedbackReplies.createdAt));
    },
    async feedbackOfLink(environmentId: string, shareLinkId: string, limit = 1000) {
      return await pgx
        .db()
        .select()
        .from(feedback)
        .where(ofLink(environmentId, shareLinkId))
        .orderBy(desc(feedback.createdAt))
        .limit(limit);
    },
    /** Inside a transaction, under the scope's limit lock (PG-130). */
    async feedbackCountOfLink(environmentId: string, shareLinkId: string) {
      await lockBeforeRead(pgx, LOCK.limit('feedback', shareLinkId));
      const rows = await pgx
        .db()
        .select({ n: count() })
        .from(feedback)
        .where(ofLink(environmentId, shareLinkId));
      return rows[0]?.n ?? 0;
    },
    /** Inside a transaction, under the scope's limit lock (PG-130). */
    async feedbackTimesOfLink(environmentId: string, shareLinkId: string, since: number) {
      await lockBeforeRead(pgx, LOCK.limit('feedback', shareLinkId));
      const rows = await pgx
        .db()
        .select({ t: feedback.createdAt })
        .from(feedback)
        .where(and(ofLink(environmentId, shareLinkId), gt(feedback.createdAt, since)))
        // In time order, as SQLite reads them through feedback_env.
        .orderBy(feedback.createdAt);
      return rows.map((r) => r.t);
    },
  } satisfies Async<ReturnType<typeof createShareStore>>;
}

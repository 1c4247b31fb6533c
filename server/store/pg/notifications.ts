import { and, count, desc, eq, inArray, isNull, lt, sql, type SQL } from 'drizzle-orm';
import { notifications } from '#schema/db/pg-tables.ts';
import type { Async } from '../port.ts';
import type { createNotificationStore, NotificationRow } from '../notifications.ts';
import type { Postgres } from './db.ts';

/** People's inboxes on PostgreSQL (PG-35): store/notifications.ts's answers. */
export function createPgNotificationStore(pgx: Postgres) {
  const of = (userId: string, projectIds: readonly string[] | 'all', ...more: SQL[]) =>
    and(
      eq(notifications.userId, userId),
      ...(projectIds === 'all' ? [] : [inArray(notifications.projectId, [...projectIds])]),
      ...more,
    );
  const total = (userId: string) =>
    sql`(select count(*) from ${notifications} where ${notifications.userId} = ${userId})`;
  return {
    async insert(row: Omit<NotificationRow, 'id'>) {
      return (await pgx.db().insert(notifications).values(row).returning())[0]!;
    },
    /**
     * Keeps `keep`: the oldest read go first, then the oldest unread (SQLite's two passes as one
     * order). The first count only skips the common case; the delete counts again in its own
     * statement (one snapshot), so a trim committed meanwhile never makes this one delete too many.
     * A delivery another transaction has not committed is not counted: racing deliveries to one
     * person may leave a few over the bound until the next trim. A per-person lock would be exact,
     * but it is held to the end of the delivering transaction, and two deliveries to several
     * people in different orders could deadlock.
     */
    async trim(userId: string, keep: number) {
      const [over] = await pgx
        .db()
        .select({ n: count() })
        .from(notifications)
        .where(eq(notifications.userId, userId));
      if ((over?.n ?? 0) <= keep) return 0;
      const r = await pgx.db().execute(sql`
        delete from ${notifications} where ${notifications.id} in (
          select ${notifications.id} from ${notifications}
          where ${notifications.userId} = ${userId}
          order by ${notifications.readAt} is null, ${notifications.id}
          limit greatest(${total(userId)} - ${keep}, 0))`);
      return r.rowCount ?? 0;
    },
    async hasUnread(userId: string, kind: string, environmentId: string | null) {
      const rows = await pgx
        .db()
        .select({ id: notifications.id })
        .from(notifications)
        .where(
          and(
            eq(notifications.userId, userId),
            isNull(notifications.readAt),
            eq(notifications.kind, kind),
            environmentId === null
              ? isNull(notifications.environmentId)
              : eq(notifications.environmentId, environmentId),
          ),
        )
        .limit(1);
      return rows.length > 0;
    },
    async list(
      userId: string,
      projectIds: readonly string[] | 'all',
      before: number | null,
      limit: number,
    ) {
      if (projectIds !== 'all' && projectIds.length === 0) return [];
      return await pgx
        .db()
        .select()
        .from(notifications)
        .where(of(userId, projectIds, ...(before ? [lt(notifications.id, before)] : [])))
        .orderBy(desc(notifications.id))
        .limit(limit);
    },
    async unread(userId: string, projectIds: readonly string[] | 'all') {
      if (projectIds !== 'all' && projectIds.length === 0) return 0;
      const rows = await pgx
        .db()
        .select({ n: count() })
        .from(notifications)
        .where(of(userId, projectIds, isNull(notifications.readAt)));
      return rows[0]?.n ?? 0;
    },
    async settleRequest(requestId: string, now: number) {
      const rows = await pgx
        .db()
        .update(notifications)
        .set({ readAt: now })
        .where(and(eq(notifications.requestId, requestId), isNull(notifications.readAt)))
        .returning({ userId: notifications.userId });
      return rows.map((r) => r.userId);
    },
    async markRead(userId: string, ids: readonly number[] | 'all', now: number) {
      await pgx
        .db()
        .update(notifications)
        .set({ readAt: now })
        .where(
          and(
            eq(notifications.userId, userId),
            isNull(notifications.readAt),
            ...(ids === 'all' ? [] : [inArray(notifications.id, [...ids])]),
          ),
        );
    },
  } satisfies Async<ReturnType<typeof createNotificationStore>>;
}

import type { Async } from './port.ts';
import { and, asc, count, desc, eq, inArray, isNotNull, isNull, lt, type SQL } from 'drizzle-orm';
import { notifications } from '#schema/db/tables.ts';
import type { Db } from './db.ts';

export type NotificationRow = typeof notifications.$inferSelect;

/** People's inboxes (see `notifications`). `projectIds`: only these projects ('all': any). */
export function createNotificationStore(db: Db) {
  const of = (userId: string, projectIds: readonly string[] | 'all', ...more: SQL[]) =>
    and(
      eq(notifications.userId, userId),
      ...(projectIds === 'all' ? [] : [inArray(notifications.projectId, [...projectIds])]),
      ...more,
    );
  return {
    insert(row: Omit<NotificationRow, 'id'>): NotificationRow {
      return db.insert(notifications).values(row).returning().get();
    },
    /**
     * Keeps `keep` of the person's notifications: past that, the oldest already read go first,
     * then (only if all are unread) the oldest unread. Returns how many went.
     */
    trim(userId: string, keep: number): number {
      const total =
        db.select({ n: count() }).from(notifications).where(eq(notifications.userId, userId)).get()
          ?.n ?? 0;
      const excess = total - keep;
      if (excess <= 0) return 0;
      const drop = (unread: boolean, limit: number) => {
        if (limit <= 0) return 0;
        const ids = db
          .select({ id: notifications.id })
          .from(notifications)
          .where(
            and(
              eq(notifications.userId, userId),
              unread ? isNull(notifications.readAt) : isNotNull(notifications.readAt),
            ),
          )
          .orderBy(asc(notifications.id))
          .limit(limit)
          .all()
          .map((r) => r.id);
        if (ids.length === 0) return 0;
        return db.delete(notifications).where(inArray(notifications.id, ids)).run().changes;
      };
      const read = drop(false, excess);
      return read + drop(true, excess - read);
    },
    /** Whether the person has an unread notification of this kind about this environment. */
    hasUnread(userId: string, kind: string, environmentId: string | null): boolean {
      return (
        db
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
          .limit(1)
          .get() !== undefined
      );
    },
    /** Newest first, older than `before` when given, at most `limit`. */
    list(
      userId: string,
      projectIds: readonly string[] | 'all',
      before: number | null,
      limit: number,
    ): NotificationRow[] {
      if (projectIds !== 'all' && projectIds.length === 0) return [];
      return db
        .select()
        .from(notifications)
        .where(of(userId, projectIds, ...(before ? [lt(notifications.id, before)] : [])))
        .orderBy(desc(notifications.id))
        .limit(limit)
        .all();
    },
    unread(userId: string, projectIds: readonly string[] | 'all'): number {
      if (projectIds !== 'all' && projectIds.length === 0) return 0;
      return (
        db
          .select({ n: count() })
          .from(notifications)
          .where(of(userId, projectIds, isNull(notifications.readAt)))
          .get()?.n ?? 0
      );
    },
    /**
     * Marks read, for everyone, the unread notifications asking about this request (it closed:
     * nothing waits any more); returns whose changed.
     */
    settleRequest(requestId: string, now: number): string[] {
      return db
        .update(notifications)
        .set({ readAt: now })
        .where(and(eq(notifications.requestId, requestId), isNull(notifications.readAt)))
        .returning({ userId: notifications.userId })
        .all()
        .map((r) => r.userId);
    },
    /** Marks the person's own among `ids` read (others' are untouched); all of theirs when `ids` is 'all'. */
    markRead(userId: string, ids: readonly number[] | 'all', now: number): void {
      db.update(notifications)
        .set({ readAt: now })
        .where(
          and(
            eq(notifications.userId, userId),
            isNull(notifications.readAt),
            ...(ids === 'all' ? [] : [inArray(notifications.id, [...ids])]),
          ),
        )
        .run();
    },
  };
}
/** The port the domain sees (PG-10). */
export type NotificationStore = Async<ReturnType<typeof createNotificationStore>>;

import type { Async } from './port.ts';
import { and, count, eq, gt, lt } from 'drizzle-orm';
import { idempotencyKeys } from '#schema/db/tables.ts';
import type { Db } from './db.ts';

export type IdempotencyRow = typeof idempotencyKeys.$inferSelect;

/** Stored first answers of requests with an Idempotency-Key (server/domain/idempotency.ts decides). */
export function createIdempotencyStore(db: Db) {
  return {
    /** The row of this key for this user and credential, if it was stored after `since`. */
    find(
      userId: string,
      credential: string,
      key: string,
      since: number,
    ): IdempotencyRow | undefined {
      return db
        .select()
        .from(idempotencyKeys)
        .where(
          and(
            eq(idempotencyKeys.userId, userId),
            eq(idempotencyKeys.credential, credential),
            eq(idempotencyKeys.key, key),
            gt(idempotencyKeys.createdAt, since),
          ),
        )
        .get();
    },
    /** Keys the user stored after `since` (all credentials). */
    countSince(userId: string, since: number): number {
      return (
        db
          .select({ n: count() })
          .from(idempotencyKeys)
          .where(and(eq(idempotencyKeys.userId, userId), gt(idempotencyKeys.createdAt, since)))
          .get()?.n ?? 0
      );
    },
    /** Stores an answer; an expired row of the same key is replaced. */
    save(row: IdempotencyRow): void {
      db.insert(idempotencyKeys)
        .values(row)
        .onConflictDoUpdate({
          target: [idempotencyKeys.userId, idempotencyKeys.credential, idempotencyKeys.key],
          set: {
            requestHash: row.requestHash,
            status: row.status,
            contentType: row.contentType,
            body: row.body,
            createdAt: row.createdAt,
          },
        })
        .run();
    },
    /** Deletes rows stored at or before `cutoff`; answers how many. */
    deleteBefore(cutoff: number): number {
      return db
        .delete(idempotencyKeys)
        .where(lt(idempotencyKeys.createdAt, cutoff + 1))
        .run().changes;
    },
  };
}

/** The port the domain sees (PG-10). */
export type IdempotencyStore = Async<ReturnType<typeof createIdempotencyStore>>;

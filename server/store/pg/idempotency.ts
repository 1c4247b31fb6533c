import { and, count, eq, gt, lt } from 'drizzle-orm';
import { idempotencyKeys } from '#schema/db/pg-tables.ts';
import type { Async } from '../port.ts';
import type { createIdempotencyStore, IdempotencyRow } from '../idempotency.ts';
import type { Postgres } from './db.ts';

/** Stored first answers of Idempotency-Key requests on PostgreSQL (PG-34): store/idempotency.ts's answers. */
export function createPgIdempotencyStore(pgx: Postgres) {
  return {
    async find(userId: string, credential: string, key: string, since: number) {
      const rows = await pgx
        .db()
        .select()
        .from(idempotencyKeys)
        .where(
          and(
            eq(idempotencyKeys.userId, userId),
            eq(idempotencyKeys.credential, credential),
            eq(idempotencyKeys.key, key),
            gt(idempotencyKeys.createdAt, since),
          ),
        );
      return rows[0];
    },
    async countSince(userId: string, since: number) {
      const rows = await pgx
        .db()
        .select({ n: count() })
        .from(idempotencyKeys)
        .where(and(eq(idempotencyKeys.userId, userId), gt(idempotencyKeys.createdAt, since)));
      return rows[0]?.n ?? 0;
    },
    /** ON CONFLICT is one atomic statement: two first answers of one key at once store one row. */
    async save(row: IdempotencyRow) {
      await pgx
        .db()
        .insert(idempotencyKeys)
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
        });
    },
    async deleteBefore(cutoff: number) {
      const r = await pgx
        .db()
        .delete(idempotencyKeys)
        .where(lt(idempotencyKeys.createdAt, cutoff + 1));
      return r.rowCount ?? 0;
    },
  } satisfies Async<ReturnType<typeof createIdempotencyStore>>;
}

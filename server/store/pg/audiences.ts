import { and, count, eq } from 'drizzle-orm';
import { AppError } from '#schema/errors.ts';
import { audiences } from '#schema/db/pg-tables.ts';
import type { Async } from '../port.ts';
import type { AudienceRow, createAudienceStore } from '../audiences.ts';
import type { Postgres } from './db.ts';
import { LOCK, lockBeforeRead } from './locks.ts';
import { deleteAndBump, writeAndBump } from './overlay.ts';
import { uniqueViolation } from './unique.ts';

/** Environment-local audiences on PostgreSQL (PG-37): store/audiences.ts's answers; every write bumps the overlay revision in its transaction. */
export function createPgAudienceStore(pgx: Postgres) {
  const one = (environmentId: string, id: string) =>
    and(eq(audiences.environmentId, environmentId), eq(audiences.id, id));
  return {
    /** In name order, as SQLite reads them through audiences_environment_name. */
    async list(environmentId: string) {
      return await pgx
        .db()
        .select()
        .from(audiences)
        .where(eq(audiences.environmentId, environmentId))
        .orderBy(audiences.nameKey);
    },
    /** Inside a transaction, one count (and the caller's insert) per environment at a time (PG-130). */
    async count(environmentId: string) {
      await lockBeforeRead(pgx, LOCK.limit('audiences', environmentId));
      const rows = await pgx
        .db()
        .select({ n: count() })
        .from(audiences)
        .where(eq(audiences.environmentId, environmentId));
      return rows[0]?.n ?? 0;
    },
    async get(environmentId: string, id: string) {
      return (await pgx.db().select().from(audiences).where(one(environmentId, id)))[0];
    },
    async byName(environmentId: string, nameKey: string) {
      const rows = await pgx
        .db()
        .select()
        .from(audiences)
        .where(and(eq(audiences.environmentId, environmentId), eq(audiences.nameKey, nameKey)));
      return rows[0];
    },
    /** A name taken meanwhile by another transaction is refused as `audience_exists` (PG-131). */
    async put(row: AudienceRow) {
      try {
        await putAndBump(row);
      } catch (err) {
        if (uniqueViolation(err, 'audiences_environment_name'))
          throw new AppError('audience_exists');
        throw err;
      }
    },
    /** Of racing deletes of one audience, the one whose DELETE removed the row bumps the revision. */
    delete(environmentId: string, id: string) {
      return deleteAndBump(pgx, environmentId, () =>
        pgx.db().delete(audiences).where(one(environmentId, id)),
      );
    },
  } satisfies Async<ReturnType<typeof createAudienceStore>>;

  function putAndBump(row: AudienceRow) {
    return writeAndBump(pgx, row.environmentId, () =>
      pgx
        .db()
        .insert(audiences)
        .values(row)
        .onConflictDoUpdate({
          target: audiences.id,
          set: {
            name: row.name,
            nameKey: row.nameKey,
            description: row.description,
            rules: row.rules,
            updatedBy: row.updatedBy,
            updatedAt: row.updatedAt,
          },
        }),
    );
  }
}

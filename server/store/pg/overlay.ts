import { eq, sql } from 'drizzle-orm';
import { environments } from '#schema/db/pg-tables.ts';
import type { Postgres } from './db.ts';

/**
 * Bumps an environment's overlay revision (the delivery ETag), as store/local.ts's bumpOverlay:
 * every change to environment-local data does, in its transaction. `overlay_revision + 1` is read
 * and written by one UPDATE, which under READ COMMITTED waits for a concurrent bump's row lock and
 * then adds to its result: no bump is lost (PG-37, PG-40).
 */
const bumpOverlay = (pgx: Postgres, environmentId: string) =>
  pgx
    .db()
    .update(environments)
    .set({ overlayRevision: sql`${environments.overlayRevision} + 1` })
    .where(eq(environments.id, environmentId));

/** A write of environment-local data and its bump, one transaction. */
export const writeAndBump = (pgx: Postgres, environmentId: string, write: () => Promise<unknown>) =>
  pgx.atomically(async () => {
    await write();
    await bumpOverlay(pgx, environmentId);
  });

/**
 * A delete and, when it removed a row, its bump, one transaction: of racing deletes of one row
 * only the one that removed it bumps (PG-37, PG-40). Answers whether it removed a row.
 */
export const deleteAndBump = (
  pgx: Postgres,
  environmentId: string,
  remove: () => Promise<{ rowCount: number | null }>,
) =>
  pgx.atomically(async () => {
    const gone = ((await remove()).rowCount ?? 0) > 0;
    if (gone) await bumpOverlay(pgx, environmentId);
    return gone;
  });

import { eq, sql } from 'drizzle-orm';
import { environments } from '#schema/db/pg-tables.ts';
import type { PgDb } from './db.ts';

/**
 * Bumps an environment's overlay revision (the delivery ETag), as store/local.ts's bumpOverlay:
 * every change to environment-local data does, in its transaction. `+ 1` in one UPDATE, so
 * concurrent writers each add theirs (PG-37).
 */
export const bumpOverlay = (db: PgDb, environmentId: string) =>
  db
    .update(environments)
    .set({ overlayRevision: sql`${environments.overlayRevision} + 1` })
    .where(eq(environments.id, environmentId));

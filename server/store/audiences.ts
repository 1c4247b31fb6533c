import type { Async } from './port.ts';
import { and, count, eq } from 'drizzle-orm';
import { audiences } from '#schema/db/tables.ts';
import type { Db } from './db.ts';
import { bumpOverlay } from './local.ts';

export type AudienceRow = typeof audiences.$inferSelect;

/** Environment-local audiences. Every write bumps the environment's overlay revision (the delivery ETag). */
export function createAudienceStore(db: Db) {
  const bump = bumpOverlay;
  return {
    list(environmentId: string): AudienceRow[] {
      return db.select().from(audiences).where(eq(audiences.environmentId, environmentId)).all();
    },
    count(environmentId: string): number {
      return (
        db
          .select({ n: count() })
          .from(audiences)
          .where(eq(audiences.environmentId, environmentId))
          .get()?.n ?? 0
      );
    },
    get(environmentId: string, id: string): AudienceRow | undefined {
      return db
        .select()
        .from(audiences)
        .where(and(eq(audiences.environmentId, environmentId), eq(audiences.id, id)))
        .get();
    },
    byName(environmentId: string, nameKey: string): AudienceRow | undefined {
      return db
        .select()
        .from(audiences)
        .where(and(eq(audiences.environmentId, environmentId), eq(audiences.nameKey, nameKey)))
        .get();
    },
    /** Inserts or replaces (by id) in one transaction with the revision bump. */
    put(row: AudienceRow): void {
      db.transaction((tx) => {
        tx.insert(audiences)
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
          })
          .run();
        bump(tx, row.environmentId);
      });
    },
    delete(environmentId: string, id: string): boolean {
      return db.transaction((tx) => {
        const r = tx
          .delete(audiences)
          .where(and(eq(audiences.environmentId, environmentId), eq(audiences.id, id)))
          .run();
        if (r.changes > 0) bump(tx, environmentId);
        return r.changes > 0;
      });
    },
  };
}

/** The port the domain sees (PG-10). */
export type AudienceStore = Async<ReturnType<typeof createAudienceStore>>;

import type { Async } from './port.ts';
import { and, count, eq, isNotNull } from 'drizzle-orm';
import { replicationBases } from '#schema/db/tables.ts';
import type { Db } from './db.ts';

export type BaseRow = typeof replicationBases.$inferSelect;

/** The merge bases of replicated sections, per receiving draft (flow rules). */
export function createReplicationStore(db: Db) {
  return {
    bases(draftId: string, section: string): BaseRow[] {
      return db
        .select()
        .from(replicationBases)
        .where(and(eq(replicationBases.draftId, draftId), eq(replicationBases.section, section)))
        .all();
    },
    conflicts(draftId: string): BaseRow[] {
      return db
        .select()
        .from(replicationBases)
        .where(
          and(eq(replicationBases.draftId, draftId), isNotNull(replicationBases.conflictBlobId)),
        )
        .all();
    },
    /** How many items of each section wait in conflict in a draft (a count on its primary key). */
    conflictCounts(draftId: string): Record<string, number> {
      const rows = db
        .select({ section: replicationBases.section, n: count() })
        .from(replicationBases)
        .where(
          and(eq(replicationBases.draftId, draftId), isNotNull(replicationBases.conflictBlobId)),
        )
        .groupBy(replicationBases.section)
        .all();
      return Object.fromEntries(rows.map((r) => [r.section, r.n]));
    },
    /** Forgets a section's merge bases and conflicts in a draft (its flow rule changed). */
    forget(draftId: string, section: string): void {
      db.delete(replicationBases)
        .where(and(eq(replicationBases.draftId, draftId), eq(replicationBases.section, section)))
        .run();
    },
    /** Replaces the rows of the given items in one transaction. */
    put(rows: readonly BaseRow[]): void {
      if (rows.length === 0) return;
      db.transaction((tx) => {
        for (const r of rows) {
          tx.insert(replicationBases)
            .values(r)
            .onConflictDoUpdate({
              target: [replicationBases.draftId, replicationBases.section, replicationBases.itemId],
              set: {
                baseBlobId: r.baseBlobId,
                conflictBlobId: r.conflictBlobId,
                updatedAt: r.updatedAt,
              },
            })
            .run();
        }
      });
    },
  };
}

/** The port the domain sees (PG-10). */
export type ReplicationStore = Async<ReturnType<typeof createReplicationStore>>;

import { and, count, eq, isNotNull, sql } from 'drizzle-orm';
import { replicationBases } from '#schema/db/pg-tables.ts';
import type { Async } from '../port.ts';
import type { BaseRow, createReplicationStore } from '../replication.ts';
import { bytewise } from './bytewise.ts';
import type { Postgres } from './db.ts';

/** Rows per INSERT: six parameters each, well under PostgreSQL's 65,535 per statement. */
const PUT_PAGE = 1000;

/**
 * The merge bases of replicated sections on PostgreSQL (PG-41). Rows come back in primary-key
 * order, as SQLite's primary-key index gives them.
 */
export function createPgReplicationStore(pgx: Postgres) {
  const inConflict = (draftId: string) =>
    and(eq(replicationBases.draftId, draftId), isNotNull(replicationBases.conflictBlobId));
  return {
    bases: async (draftId: string, section: string): Promise<BaseRow[]> =>
      pgx
        .db()
        .select()
        .from(replicationBases)
        .where(and(eq(replicationBases.draftId, draftId), eq(replicationBases.section, section)))
        .orderBy(bytewise(replicationBases.itemId)),
    conflicts: async (draftId: string): Promise<BaseRow[]> =>
      pgx
        .db()
        .select()
        .from(replicationBases)
        .where(inConflict(draftId))
        .orderBy(bytewise(replicationBases.section), bytewise(replicationBases.itemId)),
    async conflictCounts(draftId: string): Promise<Record<string, number>> {
      const rows = await pgx
        .db()
        .select({ section: replicationBases.section, n: count() })
        .from(replicationBases)
        .where(inConflict(draftId))
        .groupBy(replicationBases.section)
        .orderBy(bytewise(replicationBases.section));
      return Object.fromEntries(rows.map((r) => [r.section, r.n]));
    },
    async forget(draftId: string, section: string): Promise<void> {
      await pgx
        .db()
        .delete(replicationBases)
        .where(and(eq(replicationBases.draftId, draftId), eq(replicationBases.section, section)));
    },
    /**
     * Replaces the rows of the given items in one transaction, a page of rows per statement. Rows
     * are sorted by key first: two processes writing overlapping items lock them in the same
     * order, so they queue instead of deadlocking; a key given twice keeps its last row, as
     * SQLite's loop does (one statement may not update a row twice).
     */
    async put(rows: readonly BaseRow[]): Promise<void> {
      if (rows.length === 0) return;
      const byKey = new Map(rows.map((r) => [`${r.draftId}\0${r.section}\0${r.itemId}`, r]));
      const sorted = [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, r]) => r);
      await pgx.atomically(async () => {
        for (let i = 0; i < sorted.length; i += PUT_PAGE)
          await pgx
            .db()
            .insert(replicationBases)
            .values(sorted.slice(i, i + PUT_PAGE))
            .onConflictDoUpdate({
              target: [replicationBases.draftId, replicationBases.section, replicationBases.itemId],
              set: {
                baseBlobId: sql`excluded.base_blob_id`,
                conflictBlobId: sql`excluded.conflict_blob_id`,
                updatedAt: sql`excluded.updated_at`,
              },
            });
      });
    },
  } satisfies Async<ReturnType<typeof createReplicationStore>>;
}

export type PgReplicationStore = ReturnType<typeof createPgReplicationStore>;

import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import { blobs, snapshots } from '#schema/db/pg-tables.ts';
import type { createSnapshotStore, SnapshotRow } from '../snapshots.ts';
import type { Async } from '../port.ts';
import { TransactionConflict, type Postgres } from './db.ts';

/** Ids per statement: far below PostgreSQL's 65,535 parameters, and a bounded statement. */
const BATCH = 500;

function* batches<T>(items: readonly T[]): Generator<T[]> {
  for (let i = 0; i < items.length; i += BATCH) yield items.slice(i, i + BATCH);
}

/** The blob ids a snapshot's tree names (section → item id → blob id). */
function blobIdsOf(tree: string): string[] {
  const sections = JSON.parse(tree) as Record<string, Record<string, string>>;
  return [...new Set(Object.values(sections).flatMap((items) => Object.values(items)))];
}

/** The snapshot store on PostgreSQL (PG-22): blobs and snapshots, immutable and content-addressed. */
export function createPgSnapshotStore(pgx: Postgres) {
  /**
   * Writes each blob once. Sorted by id: two transactions inserting overlapping blobs then take
   * the unique-index waits in the same order, never each waiting for the other (a deadlock).
   */
  async function insertBlobs(newBlobs: readonly { id: string; json: string }[]): Promise<void> {
    const sorted = [...newBlobs].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (const batch of batches(sorted))
      await pgx.db().insert(blobs).values(batch).onConflictDoNothing();
  }

  async function knownBlobIds(ids: readonly string[]) {
    const found = new Set<string>();
    for (const batch of batches(ids))
      for (const r of await pgx
        .db()
        .select({ id: blobs.id })
        .from(blobs)
        .where(inArray(blobs.id, batch)))
        found.add(r.id);
    return found;
  }

  return {
    /**
     * PG-16: a freeze asks `knownBlobIds` and then writes only the blobs it did not know; a
     * retention commit between the two could delete a known one. So the write first takes a
     * write lock on `blobs` (a retention commit under way finishes first, and none starts until
     * this one commits), then checks that every blob the tree names is there. One that is not
     * was deleted since the freeze looked: no snapshot is written, and the `TransactionConflict`
     * makes the outermost `atomically` run the whole freeze again (PG-15), which writes it anew.
     */
    putSnapshot(row: SnapshotRow, newBlobs: readonly { id: string; json: string }[]) {
      return pgx.atomically(async () => {
        await pgx.db().execute(sql`LOCK TABLE blobs IN ROW EXCLUSIVE MODE`);
        await insertBlobs(newBlobs);
        const named = blobIdsOf(row.tree);
        const there = await knownBlobIds(named);
        const gone = named.filter((id) => !there.has(id));
        if (gone.length > 0)
          throw new TransactionConflict(
            `${gone.length} blob(s) of snapshot ${row.id} were deleted since the freeze looked`,
          );
        await pgx.db().insert(snapshots).values(row).onConflictDoNothing();
      });
    },
    putBlobs(newBlobs: readonly { id: string; json: string }[]) {
      return pgx.atomically(() => insertBlobs(newBlobs));
    },
    knownBlobIds,
    async getBlobs(ids: readonly string[]) {
      const out = new Map<string, string>();
      for (const batch of batches(ids))
        for (const r of await pgx.db().select().from(blobs).where(inArray(blobs.id, batch)))
          out.set(r.id, r.json);
      return out;
    },
    async getSnapshot(projectId: string, id: string) {
      const [row] = await pgx
        .db()
        .select()
        .from(snapshots)
        .where(and(eq(snapshots.projectId, projectId), eq(snapshots.id, id)));
      return row;
    },
    findSnapshots(id: string) {
      return pgx
        .db()
        .select()
        .from(snapshots)
        .where(eq(snapshots.id, id))
        .orderBy(asc(snapshots.projectId));
    },
  } satisfies Async<ReturnType<typeof createSnapshotStore>>;
}

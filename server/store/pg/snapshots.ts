import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import { blobs, snapshots } from '#schema/db/pg-tables.ts';
import {
  blobsToWrite,
  idsToLookUp,
  type BlobRow,
  type createSnapshotStore,
  type SnapshotRow,
} from '../snapshots.ts';
import type { Async } from '../port.ts';
import type { Postgres } from './db.ts';

/** Ids per statement: far below PostgreSQL's 65,535 parameters, and a bounded statement. */
const BATCH = 500;

function* batches<T>(items: readonly T[]): Generator<T[]> {
  for (let i = 0; i < items.length; i += BATCH) yield items.slice(i, i + BATCH);
}

/** The snapshot store on PostgreSQL (PG-22): blobs and snapshots, immutable and content-addressed. */
export function createPgSnapshotStore(pgx: Postgres) {
  /**
   * Writes each blob once. Sorted by id: two transactions inserting overlapping blobs then take
   * the unique-index waits in the same order, never each waiting for the other (a deadlock).
   */
  async function insertBlobs(newBlobs: readonly BlobRow[]): Promise<void> {
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
     * PG-16, PG-19: the freeze does not ask which blobs exist before this write; it gives every
     * blob the tree names and the store decides, here, which to insert. The write first takes a write lock on
     * `blobs` (a retention commit under way finishes first, and none starts until this one
     * commits), then looks which blobs are there and inserts the others (ON CONFLICT DO NOTHING:
     * another freeze may insert the same one). A blob a retention commit deleted before the lock
     * is written again, so no snapshot names a missing blob and there is no conflict to retry:
     * a freeze outside any `atomically` (an approval request's) commits the first time.
     */
    putSnapshot(row: SnapshotRow, treeBlobs: readonly BlobRow[]) {
      return pgx.atomically(async () => {
        await pgx.db().execute(sql`LOCK TABLE blobs IN ROW EXCLUSIVE MODE`);
        const known = await knownBlobIds(idsToLookUp(row, treeBlobs));
        await insertBlobs(blobsToWrite(row, treeBlobs, known));
        await pgx.db().insert(snapshots).values(row).onConflictDoNothing();
      });
    },
    putBlobs(newBlobs: readonly BlobRow[]) {
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

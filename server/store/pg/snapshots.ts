import { and, asc, eq, inArray } from 'drizzle-orm';
import { blobs, snapshots } from '#schema/db/pg-tables.ts';
import type { createSnapshotStore, SnapshotRow } from '../snapshots.ts';
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
  async function insertBlobs(newBlobs: readonly { id: string; json: string }[]): Promise<void> {
    const sorted = [...newBlobs].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (const batch of batches(sorted))
      await pgx.db().insert(blobs).values(batch).onConflictDoNothing();
  }

  return {
    putSnapshot(row: SnapshotRow, newBlobs: readonly { id: string; json: string }[]) {
      return pgx.atomically(async () => {
        await insertBlobs(newBlobs);
        await pgx.db().insert(snapshots).values(row).onConflictDoNothing();
      });
    },
    putBlobs(newBlobs: readonly { id: string; json: string }[]) {
      return pgx.atomically(() => insertBlobs(newBlobs));
    },
    async knownBlobIds(ids: readonly string[]) {
      const found = new Set<string>();
      for (const batch of batches(ids))
        for (const r of await pgx
          .db()
          .select({ id: blobs.id })
          .from(blobs)
          .where(inArray(blobs.id, batch)))
          found.add(r.id);
      return found;
    },
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

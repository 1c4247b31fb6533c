import type { Async } from './port.ts';
import { and, eq, inArray } from 'drizzle-orm';
import { blobs, snapshots } from '#schema/db/tables.ts';
import type { Db } from './db.ts';

export type SnapshotRow = typeof snapshots.$inferSelect;

/** Content-addressed blobs (one item's JSON) and snapshots (a tree of blob ids): immutable once written. */
export function createSnapshotStore(db: Db) {
  return {
    /** Blobs and snapshot rows are immutable and content-addressed: writing one twice is a no-op. */
    putSnapshot(row: SnapshotRow, newBlobs: readonly { id: string; json: string }[]): void {
      db.transaction((tx) => {
        for (const b of newBlobs) tx.insert(blobs).values(b).onConflictDoNothing().run();
        tx.insert(snapshots).values(row).onConflictDoNothing().run();
      });
    },
    /** Stores content-addressed blobs (already known ones are skipped). */
    putBlobs(newBlobs: readonly { id: string; json: string }[]): void {
      db.transaction((tx) => {
        for (const b of newBlobs) tx.insert(blobs).values(b).onConflictDoNothing().run();
      });
    },
    knownBlobIds(ids: readonly string[]): Set<string> {
      if (ids.length === 0) return new Set();
      const found = new Set<string>();
      for (let i = 0; i < ids.length; i += 500) {
        for (const r of db
          .select({ id: blobs.id })
          .from(blobs)
          .where(inArray(blobs.id, ids.slice(i, i + 500)))
          .all())
          found.add(r.id);
      }
      return found;
    },
    getBlobs(ids: readonly string[]): Map<string, string> {
      const out = new Map<string, string>();
      for (let i = 0; i < ids.length; i += 500) {
        for (const r of db
          .select()
          .from(blobs)
          .where(inArray(blobs.id, ids.slice(i, i + 500)))
          .all())
          out.set(r.id, r.json);
      }
      return out;
    },
    getSnapshot(projectId: string, id: string): SnapshotRow | undefined {
      return db
        .select()
        .from(snapshots)
        .where(and(eq(snapshots.projectId, projectId), eq(snapshots.id, id)))
        .get();
    },
    /** Every project's row of a snapshot id (equal content in two projects has one id, a row in each). */
    findSnapshots(id: string): SnapshotRow[] {
      return db.select().from(snapshots).where(eq(snapshots.id, id)).all();
    },
  };
}

/** The port the domain sees (PG-10). */
export type SnapshotStore = Async<ReturnType<typeof createSnapshotStore>>;

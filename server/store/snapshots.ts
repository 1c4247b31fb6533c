import type { Async } from './port.ts';
import { and, eq, inArray } from 'drizzle-orm';
import { blobs, snapshots } from '#schema/db/tables.ts';
import type { Db } from './db.ts';

export type SnapshotRow = typeof snapshots.$inferSelect;

/** One blob: an item's canonical JSON and its content address. */
export type BlobRow = typeof blobs.$inferSelect;

/** The blob ids a snapshot's tree names (section → item id → blob id). */
export function blobIdsOf(tree: string): string[] {
  const sections = JSON.parse(tree) as Record<string, Record<string, string>>;
  return [...new Set(Object.values(sections).flatMap((items) => Object.values(items)))];
}

/** Every id a snapshot write must look up: the ones its tree names and the ones it was given. */
export const idsToLookUp = (row: SnapshotRow, given: readonly BlobRow[]): string[] => [
  ...new Set([...blobIdsOf(row.tree), ...given.map((b) => b.id)]),
];

/**
 * PG-19: what a snapshot write inserts, decided inside its transaction from `known` (the blobs
 * there now): the given blobs not there, once each, sorted by id. The caller gives every blob the
 * tree names, so one deleted since the caller looked is written again. A tree naming a blob that
 * is neither there nor given is refused (a caller's bug: the snapshot would name a missing blob).
 */
export function blobsToWrite(
  row: SnapshotRow,
  given: readonly BlobRow[],
  known: ReadonlySet<string>,
): BlobRow[] {
  const byId = new Map<string, BlobRow>();
  for (const b of given) if (!known.has(b.id) && !byId.has(b.id)) byId.set(b.id, b);
  const missing = blobIdsOf(row.tree).filter((id) => !known.has(id) && !byId.has(id));
  if (missing.length > 0)
    throw new Error(
      `snapshot ${row.id} names ${missing.length} blob(s) that are neither stored nor given`,
    );
  return [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Content-addressed blobs (one item's JSON) and snapshots (a tree of blob ids): immutable once written. */
export function createSnapshotStore(db: Db) {
  function knownBlobIds(ids: readonly string[]): Set<string> {
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
  }

  return {
    /**
     * Writes a snapshot row and its blobs in one transaction. `treeBlobs` is every blob the tree
     * names (more are written too); the store looks, inside that transaction, which are already
     * there and writes only the others (PG-19: what the caller saw before is not trusted, so a
     * blob deleted since it looked is written again). Blobs and snapshot rows are immutable and
     * content-addressed: writing one twice is a no-op.
     */
    putSnapshot(row: SnapshotRow, treeBlobs: readonly BlobRow[]): void {
      db.transaction((tx) => {
        const known = knownBlobIds(idsToLookUp(row, treeBlobs));
        for (const b of blobsToWrite(row, treeBlobs, known))
          tx.insert(blobs).values(b).onConflictDoNothing().run();
        tx.insert(snapshots).values(row).onConflictDoNothing().run();
      });
    },
    /** Stores content-addressed blobs (already known ones are skipped). */
    putBlobs(newBlobs: readonly BlobRow[]): void {
      db.transaction((tx) => {
        for (const b of newBlobs) tx.insert(blobs).values(b).onConflictDoNothing().run();
      });
    },
    knownBlobIds,
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

import type { Async } from './port.ts';
import { sql } from 'drizzle-orm';
import type { Db } from './db.ts';
import {
  abandonedBefore,
  BLOB_PAGE,
  blobsNamedByReplicationQuery,
  referencedSnapshotIdsQuery,
} from './retention-sql.ts';

export interface AbandonedRequest {
  id: string;
  projectId: string;
  snapshotId: string;
  targetEnvironmentId: string;
  state: string;
}

/** What the snapshot retention rule reads and deletes (server/domain/retention.ts decides). */
export function createRetentionStore(db: Db) {
  return {
    /** Requests given up on before `cutoff`: voided or rejected then, or still open since then. */
    abandonedRequests(cutoff: number): AbandonedRequest[] {
      return db.all<AbandonedRequest>(sql`
        SELECT id, project_id AS projectId, snapshot_id AS snapshotId, target_environment_id AS targetEnvironmentId, state
        FROM promotion_requests
        WHERE ${abandonedBefore(cutoff)}`);
    },

    /**
     * Every snapshot of the project that something other than an abandoned request holds: an
     * environment pointer, a release record (from or to), a hotfix or its draft, a pinned share
     * link, or a request that is done or within retention. (A snapshot's parent is always a
     * pointer's snapshot, so a release record holds it; reading parent_id would also read
     * every tree, which comes before it in the row.)
     */
    referencedSnapshotIds(projectId: string, cutoff: number): Set<string> {
      const rows = db.all<{ id: string | null }>(referencedSnapshotIdsQuery(projectId, cutoff));
      return new Set(rows.flatMap((r) => (r.id ? [r.id] : [])));
    },

    tree(projectId: string, id: string): string | undefined {
      return db.get<{ tree: string } | undefined>(
        sql`SELECT tree FROM snapshots WHERE project_id = ${projectId} AND id = ${id}`,
      )?.tree;
    },

    /** The newest snapshot row's rowid: rows above it were frozen after a scan began. */
    lastSnapshotRow(): number {
      return db.get<{ n: number | null }>(sql`SELECT max(rowid) AS n FROM snapshots`)?.n ?? 0;
    },

    /** Snapshot trees in rowid order, `limit` at a time (a scan that yields between pages). */
    treesAfter(
      row: number,
      upTo: number,
      limit: number,
    ): { row: number; projectId: string; id: string; tree: string }[] {
      return db.all(
        sql`SELECT rowid AS row, project_id AS projectId, id, tree FROM snapshots WHERE rowid > ${row} AND rowid <= ${upTo} ORDER BY rowid LIMIT ${limit}`,
      );
    },

    /** Of these blob ids, the ones a replication merge base or conflict names (they must stay). */
    blobsNamedByReplication(ids: readonly string[]): Set<string> {
      const out = new Set<string>();
      for (let i = 0; i < ids.length; i += BLOB_PAGE)
        for (const r of db.all<{ id: string }>(
          blobsNamedByReplicationQuery(ids.slice(i, i + BLOB_PAGE)),
        ))
          out.add(r.id);
      return out;
    },

    deleteRequest(id: string): void {
      db.run(sql`DELETE FROM promotion_requests WHERE id = ${id}`);
    },
    deleteSnapshot(projectId: string, id: string): void {
      db.run(sql`DELETE FROM snapshots WHERE project_id = ${projectId} AND id = ${id}`);
    },
    deleteBlob(id: string): void {
      db.run(sql`DELETE FROM blobs WHERE id = ${id}`);
    },
  };
}

/** The port the domain sees (PG-10). */
export type RetentionStore = Async<ReturnType<typeof createRetentionStore>>;

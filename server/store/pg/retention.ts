import { sql } from 'drizzle-orm';
import type { Async } from '../port.ts';
import type { AbandonedRequest, createRetentionStore } from '../retention.ts';
import {
  abandonedBefore,
  BLOB_PAGE,
  blobsNamedByReplicationQuery,
  referencedSnapshotIdsQuery,
} from '../retention-sql.ts';
import type { PgDb, Postgres } from './db.ts';

/**
 * The tables whose writes could make the retention commit's re-check stale, in the order a
 * promotion writes them (a freeze first), so a promotion already under way finishes before the
 * lock is granted rather than deadlocking with it.
 */
const RETENTION_LOCK = sql`LOCK TABLE blobs, snapshots, promotion_requests, environments, releases,
  hotfixes, drafts, share_links, replication_bases IN SHARE ROW EXCLUSIVE MODE`;

/** Sweep marks remembered (one sweep runs at a time per process; a few spare). */
const MARKS_KEPT = 8;

/**
 * What the snapshot retention rule reads and deletes, on PostgreSQL (PG-44); the domain
 * (server/domain/retention.ts) plans in pages outside any transaction, then commits in one.
 *
 * SQLite serialises the commit with every other writer; PostgreSQL does not. So the first call
 * of this store inside a transaction locks, until that transaction ends, every table whose
 * writes the re-check reads (RETENTION_LOCK): writers already under way finish first, and no
 * pointer move, release, request, share link, hotfix, freeze or replication base can land
 * between the re-check and the deletes. Writes wait a few milliseconds, as on SQLite.
 *
 * SQLite pages the scan by rowid, which grows with every insert. PostgreSQL has no such column:
 * here a scan pages by `created_at` (every row of a millisecond in one page) and a mark is the
 * newest `created_at`. Times come from several processes' clocks and are chosen before commit,
 * so a snapshot committed during the scan can sort below the mark or below the page already
 * read. The mark therefore remembers the oldest transaction still running when it was taken
 * (`pg_snapshot_xmin`), and the commit's `treesAfter(mark, …)` also answers every row written by
 * that transaction or a later one, whatever its time.
 */
export function createPgRetentionStore(pgx: Postgres) {
  const locked = new WeakSet<PgDb>();
  /** mark → the 32-bit transaction id horizon when it was taken (the lowest if taken twice). */
  const horizons = new Map<number, number>();

  /** The pool, or inside a transaction that transaction, locked on its first use here. */
  async function db(): Promise<PgDb> {
    const db = pgx.db();
    if (pgx.inTransaction() && !locked.has(db)) {
      await db.execute(RETENTION_LOCK);
      locked.add(db);
    }
    return db;
  }
  const rows = async <T>(query: ReturnType<typeof sql>): Promise<T[]> =>
    (await (await db()).execute(query)).rows as T[];

  return {
    // Oldest first, so the expiry audit of open ones is written in a stable order.
    abandonedRequests: (cutoff: number) =>
      rows<AbandonedRequest>(sql`
        SELECT id, project_id AS "projectId", snapshot_id AS "snapshotId",
          target_environment_id AS "targetEnvironmentId", state
        FROM promotion_requests WHERE ${abandonedBefore(cutoff)}
        ORDER BY created_at, id COLLATE "C"`),

    async referencedSnapshotIds(projectId: string, cutoff: number): Promise<Set<string>> {
      const found = await rows<{ id: string | null }>(
        referencedSnapshotIdsQuery(projectId, cutoff),
      );
      return new Set(found.flatMap((r) => (r.id ? [r.id] : [])));
    },

    async tree(projectId: string, id: string): Promise<string | undefined> {
      const [r] = await rows<{ tree: string }>(
        sql`SELECT tree FROM snapshots WHERE project_id = ${projectId} AND id = ${id}`,
      );
      return r?.tree;
    },

    async lastSnapshotRow(): Promise<number> {
      // One statement: the newest time and the horizon come from the same moment.
      const [r] = await rows<{ n: string | null; horizon: string }>(sql`
        SELECT max(created_at)::text AS n,
          (pg_snapshot_xmin(pg_current_snapshot())::text::bigint & 4294967295)::text AS horizon
        FROM snapshots`);
      const mark = Number(r?.n ?? 0);
      const horizon = Number(r!.horizon);
      const known = horizons.get(mark);
      horizons.delete(mark);
      horizons.set(mark, known === undefined ? horizon : Math.min(known, horizon));
      for (const old of horizons.keys()) if (horizons.size > MARKS_KEPT) horizons.delete(old);
      return mark;
    },

    async treesAfter(
      row: number,
      upTo: number,
      limit: number,
    ): Promise<{ row: number; projectId: string; id: string; tree: string }[]> {
      // A page ends after its last row's millisecond, so the next page (`> row`) skips none.
      const window = sql`created_at > ${row} AND created_at <= least(${upTo}::bigint, (
          SELECT created_at FROM snapshots WHERE created_at > ${row} AND created_at <= ${upTo}
          ORDER BY created_at OFFSET ${Math.max(0, limit - 1)} LIMIT 1))`;
      // The commit's re-check (inside a transaction): also every row whose inserting transaction
      // is at or after the horizon, compared as PostgreSQL compares transaction ids (mod 2^32).
      // An unknown mark has no horizon: every row is answered, which only keeps more blobs.
      const horizon = horizons.get(row);
      const since = !pgx.inTransaction()
        ? sql`false`
        : horizon === undefined
          ? sql`true`
          : sql`((xmin::text::bigint - ${horizon}) & 4294967295) < 2147483648`;
      const found = await rows<{ row: string; projectId: string; id: string; tree: string }>(sql`
        SELECT created_at::text AS row, project_id AS "projectId", id, tree FROM snapshots
        WHERE (${window}) OR ${since}
        ORDER BY created_at, project_id COLLATE "C", id COLLATE "C"`);
      return found.map((r) => ({ ...r, row: Number(r.row) }));
    },

    async blobsNamedByReplication(ids: readonly string[]): Promise<Set<string>> {
      const out = new Set<string>();
      for (let i = 0; i < ids.length; i += BLOB_PAGE)
        for (const r of await rows<{ id: string }>(
          blobsNamedByReplicationQuery(ids.slice(i, i + BLOB_PAGE)),
        ))
          out.add(r.id);
      return out;
    },

    async deleteRequest(id: string): Promise<void> {
      await rows(sql`DELETE FROM promotion_requests WHERE id = ${id}`);
    },
    async deleteSnapshot(projectId: string, id: string): Promise<void> {
      await rows(sql`DELETE FROM snapshots WHERE project_id = ${projectId} AND id = ${id}`);
    },
    async deleteBlob(id: string): Promise<void> {
      await rows(sql`DELETE FROM blobs WHERE id = ${id}`);
    },
  } satisfies Omit<Async<ReturnType<typeof createRetentionStore>>, 'atomically'>;
}

export type PgRetentionStore = ReturnType<typeof createPgRetentionStore>;

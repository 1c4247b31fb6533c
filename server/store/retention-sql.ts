import { sql, type SQL } from 'drizzle-orm';

/**
 * The retention rule's SQL that reads the same in SQLite and PostgreSQL, shared by both
 * dialects' retention stores (server/store/retention.ts, server/store/pg/retention.ts).
 */

/** A promotion request given up on before `cutoff`: voided or rejected then, or still open since then. */
export const abandonedBefore = (cutoff: number): SQL =>
  sql`((state IN ('voided', 'rejected') AND closed_at < ${cutoff}) OR (state = 'open' AND created_at < ${cutoff}))`;

/** The ids (one column, `id`) of every snapshot of the project something other than an abandoned request holds. */
export const referencedSnapshotIdsQuery = (projectId: string, cutoff: number): SQL => sql`
  SELECT snapshot_id AS id FROM environments WHERE project_id = ${projectId}
  UNION SELECT live_snapshot_id FROM environments WHERE project_id = ${projectId}
  UNION SELECT to_snapshot_id FROM releases WHERE project_id = ${projectId}
  UNION SELECT from_snapshot_id FROM releases WHERE project_id = ${projectId}
  UNION SELECT base_snapshot_id FROM hotfixes WHERE project_id = ${projectId}
  UNION SELECT snapshot_id FROM hotfixes WHERE project_id = ${projectId}
  UNION SELECT base_snapshot_id FROM drafts WHERE project_id = ${projectId}
  UNION SELECT s.snapshot_id FROM share_links s JOIN environments e ON e.id = s.environment_id WHERE e.project_id = ${projectId}
  UNION SELECT snapshot_id FROM promotion_requests WHERE project_id = ${projectId}
    AND NOT ${abandonedBefore(cutoff)}`;

/** Blob ids asked about per statement (SQLite's limit on bound parameters). */
export const BLOB_PAGE = 400;

/** Of a page of blob ids (one column, `id`), the ones a replication merge base or conflict names. */
export const blobsNamedByReplicationQuery = (page: readonly string[]): SQL => {
  const list = sql.join(
    page.map((id) => sql`${id}`),
    sql`, `,
  );
  return sql`SELECT base_blob_id AS id FROM replication_bases WHERE base_blob_id IN (${list}) UNION SELECT conflict_blob_id FROM replication_bases WHERE conflict_blob_id IN (${list})`;
};

import { sql } from 'drizzle-orm';
import type { Postgres } from './db.ts';

/**
 * The `draft_leases` rows (PG-70, PG-71): which process owns a draft, at which epoch, until when.
 * The timers and the bookkeeping of one process live in server/cluster/leases.ts.
 *
 * Every time here is PostgreSQL's clock in epoch milliseconds, never a node's: one clock decides
 * every expiry, so a node whose clock runs ahead cannot take a lease early.
 */
export const pgNowMs = sql.raw('(extract(epoch from clock_timestamp()) * 1000)::bigint');

export interface LeaseHolder {
  node: string;
  url: string;
  epoch: number;
}

export function createLeaseStore(pgx: Postgres) {
  return {
    /**
     * Takes the lease of `draftId` for `node` if nobody holds it, it expired, or `node` itself holds
     * it (a restarted process with the same node id: the epoch still grows, fencing the old one).
     * One statement: concurrent takers meet on the row lock (or the primary key), and ON CONFLICT
     * DO UPDATE re-checks its WHERE against the row the winner committed. A takeover waits for an
     * append in flight, which holds the row FOR KEY SHARE (server/store/pg/drafts.ts). Answers the new epoch, or null.
     */
    async take(draftId: string, node: string, url: string, ttlMs: number): Promise<number | null> {
      // FOR UPDATE first: ON CONFLICT DO UPDATE alone locks the row only FOR NO KEY UPDATE, which
      // an append's FOR KEY SHARE does not hold back (PG-76). Referenced, so it runs.
      const r = await pgx.db().execute<{ epoch: string }>(sql`
        WITH locked AS (SELECT draft_id FROM draft_leases WHERE draft_id = ${draftId} FOR UPDATE)
        INSERT INTO draft_leases AS l (draft_id, owner_node, owner_url, epoch, expires_at, updated_at)
        SELECT ${draftId}, ${node}, ${url}, 1, n.ms + ${ttlMs}::bigint, n.ms
          FROM (SELECT ${pgNowMs} AS ms) n LEFT JOIN locked ON true
        ON CONFLICT (draft_id) DO UPDATE SET owner_node = excluded.owner_node,
          owner_url = excluded.owner_url, epoch = l.epoch + 1, expires_at = excluded.expires_at,
          updated_at = excluded.updated_at
        WHERE l.expires_at <= excluded.updated_at OR l.owner_node = excluded.owner_node
        RETURNING l.epoch`);
      return r.rows[0] ? Number(r.rows[0].epoch) : null;
    },

    /** Who holds `draftId` now (an unexpired lease), or null. */
    async holder(draftId: string): Promise<LeaseHolder | null> {
      const r = await pgx.db().execute<{
        owner_node: string;
        owner_url: string;
        epoch: string;
      }>(sql`
        SELECT owner_node, owner_url, epoch FROM draft_leases
        WHERE draft_id = ${draftId} AND expires_at > ${pgNowMs}`);
      const row = r.rows[0];
      return row ? { node: row.owner_node, url: row.owner_url, epoch: Number(row.epoch) } : null;
    },

    /**
     * Extends every lease of `held` that `node` still holds at that epoch, unexpired, in one
     * statement; answers the draft ids renewed (the others are lost). FOR NO KEY UPDATE: a renewal
     * does not wait for its own appends in flight (FOR KEY SHARE, PG-76) — with one lock that
     * conflicted, a renewal of 70 busy drafts queued behind an append (and its fsync) per row and
     * took 1–3 s under load, past the leases' deadline. Rows are locked in draft id order.
     */
    async renew(
      node: string,
      held: readonly { draftId: string; epoch: number }[],
      ttlMs: number,
    ): Promise<Set<string>> {
      if (held.length === 0) return new Set();
      const r = await pgx.db().execute<{ draft_id: string }>(sql`
        WITH mine AS (
          SELECT l.draft_id FROM draft_leases l
          JOIN unnest(${sql.param(held.map((h) => h.draftId))}::text[],
                      ${sql.param(held.map((h) => h.epoch))}::bigint[]) AS h(draft_id, epoch)
            ON h.draft_id = l.draft_id AND h.epoch = l.epoch
          WHERE l.owner_node = ${node} AND l.expires_at > ${pgNowMs}
          ORDER BY l.draft_id
          FOR NO KEY UPDATE OF l
        )
        UPDATE draft_leases l SET expires_at = ${pgNowMs} + ${ttlMs}::bigint, updated_at = ${pgNowMs}
        FROM mine WHERE l.draft_id = mine.draft_id
        RETURNING l.draft_id`);
      return new Set(r.rows.map((row) => row.draft_id));
    },

    /** Ends `node`'s lease at `epoch` now (the row stays, so the next epoch still grows). */
    async release(draftId: string, node: string, epoch: number): Promise<boolean> {
      const r = await pgx.db().execute(sql`
        UPDATE draft_leases SET expires_at = ${pgNowMs}, updated_at = ${pgNowMs}
        WHERE draft_id = ${draftId} AND owner_node = ${node} AND epoch = ${epoch}
          AND expires_at > ${pgNowMs}`);
      return (r.rowCount ?? 0) > 0;
    },
  };
}

export type LeaseStore = ReturnType<typeof createLeaseStore>;

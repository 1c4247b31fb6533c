import { sql } from 'drizzle-orm';
import type { StoredDraft } from '../drafts.ts';
import type { Postgres } from './db.ts';
import { pgNowMs } from './leases.ts';

/**
 * A write to a draft's log refused because this process no longer holds the draft's lease at the
 * epoch it wrote with (PG-73): another process took the draft over, or the lease lapsed. Nothing
 * of the write was stored. The room must stop serving the draft (CLOSE.owner_moved).
 */
export class FencedError extends Error {
  readonly draftIds: readonly string[];
  constructor(draftIds: readonly string[]) {
    super(`no longer the owner of draft ${draftIds.join(', ')}: nothing was written`);
    this.name = 'FencedError';
    this.draftIds = draftIds;
  }
}

/** One draft's part of a group append, with the lease epoch its owner holds. */
export interface FencedBatch {
  draftId: string;
  updates: readonly Uint8Array[];
  epoch: number;
}

/**
 * The draft update log on PostgreSQL (PG-72, PG-73): the SQLite store's calls (server/store/
 * drafts.ts) answering the same, made async, and FENCED — every append and compaction carries the
 * epoch of `node`'s lease and writes only if `draft_leases` still holds the draft for `node` at
 * that epoch, unexpired, checked in the same statement. The lease row is read FOR KEY SHARE, so a
 * takeover (which locks the row FOR UPDATE first) waits for a write in flight, and a write that comes after a takeover sees the new epoch and writes nothing: a former
 * owner cannot fork the log. Its owner's renewals (FOR NO KEY UPDATE, PG-76) do not wait for its
 * writes, nor its writes for them.
 */
export function createPgDraftStore(pgx: Postgres, node: string) {
  /** Sequence numbers come from the identity column in input order, like SQLite's autoincrement. */
  async function appendMany(batches: readonly FencedBatch[]): Promise<number[]> {
    const rows = batches.flatMap((b) => b.updates.map((u) => ({ b, u })));
    if (rows.length === 0) return batches.map(() => 0);
    const r = await pgx.db().execute<{ seq: string | null; fenced: string | null }>(sql`
      WITH input AS (
        SELECT * FROM unnest(${sql.param(rows.map((x) => x.b.draftId))}::text[],
                             ${sql.param(rows.map((x) => x.b.epoch))}::bigint[],
                             ${sql.param(rows.map((x) => x.u))}::bytea[])
          WITH ORDINALITY AS t(draft_id, epoch, bytes, i)
      ),
      wanted AS (SELECT DISTINCT draft_id, epoch FROM input),
      lease AS (
        SELECT l.draft_id FROM draft_leases l
        JOIN wanted w ON w.draft_id = l.draft_id AND w.epoch = l.epoch
        WHERE l.owner_node = ${node} AND l.expires_at > ${pgNowMs}
        ORDER BY l.draft_id
        FOR KEY SHARE OF l
      ),
      fenced AS (SELECT draft_id FROM wanted WHERE draft_id NOT IN (SELECT draft_id FROM lease)),
      ins AS (
        INSERT INTO draft_updates (draft_id, "update", created_at)
        SELECT draft_id, bytes, ${pgNowMs} FROM input
        WHERE NOT EXISTS (SELECT 1 FROM fenced)
        ORDER BY i
        RETURNING draft_id, seq
      )
      SELECT seq, NULL AS fenced FROM ins
      UNION ALL
      SELECT NULL, draft_id FROM fenced`);
    // One fenced draft refuses the whole group, as one failing SQLite transaction does: the
    // group commit then flushes each room alone, and only the fenced rooms are refused.
    const fenced = r.rows.flatMap((row) => (row.fenced === null ? [] : [row.fenced]));
    if (fenced.length > 0) throw new FencedError(fenced);
    // The rows took their seqs in input order, so the k-th smallest seq is the k-th update.
    const seqs = r.rows.map((row) => Number(row.seq)).sort((x, y) => x - y);
    let end = 0;
    return batches.map((b) => {
      end += b.updates.length;
      return b.updates.length > 0 ? seqs[end - 1]! : 0;
    });
  }

  return {
    /** Appends updates in one statement; answers the last sequence number written (0 for none). */
    async append(draftId: string, updates: readonly Uint8Array[], epoch: number): Promise<number> {
      const [last] = await appendMany([{ draftId, updates, epoch }]);
      return last!;
    },

    /** Appends several drafts' updates in ONE statement (group commit): all of them, or none. */
    appendMany,

    /**
     * The state row and the updates after it, read in one statement (one snapshot), so a
     * compaction committing in between cannot hide updates. Not fenced: reading forks nothing.
     */
    async load(draftId: string): Promise<StoredDraft> {
      const r = await pgx.db().execute<{ seq: string | null; bytes: Buffer; upto_seq: string }>(sql`
        WITH s AS (SELECT state, upto_seq FROM draft_states WHERE draft_id = ${draftId})
        SELECT NULL::bigint AS seq, state AS bytes, upto_seq FROM s
        UNION ALL
        SELECT u.seq, u."update", NULL FROM draft_updates u
        WHERE u.draft_id = ${draftId} AND u.seq > coalesce((SELECT upto_seq FROM s), 0)
        ORDER BY seq NULLS FIRST`);
      const state = r.rows[0]?.seq === null ? r.rows[0] : undefined;
      const updates = state ? r.rows.slice(1) : r.rows;
      const from = state ? Number(state.upto_seq) : 0;
      return {
        state: state ? new Uint8Array(state.bytes) : null,
        updates: updates.map((u) => new Uint8Array(u.bytes)),
        lastSeq: updates.length > 0 ? Number(updates[updates.length - 1]!.seq) : from,
      };
    },

    /**
     * Replaces the state row with `state` (covering every update up to `uptoSeq`) and drops those
     * updates, in one statement, only while the lease holds at `epoch`; else FencedError.
     */
    async compact(draftId: string, state: Uint8Array, uptoSeq: number, epoch: number) {
      const r = await pgx.db().execute<{ held: number }>(sql`
        WITH lease AS (
          SELECT draft_id FROM draft_leases
          WHERE draft_id = ${draftId} AND owner_node = ${node} AND epoch = ${epoch}
            AND expires_at > ${pgNowMs}
          FOR KEY SHARE
        ),
        st AS (
          INSERT INTO draft_states AS s (draft_id, state, upto_seq, updated_at)
          SELECT draft_id, ${Buffer.from(state.buffer, state.byteOffset, state.byteLength)},
                 ${uptoSeq}, ${pgNowMs}
          FROM lease
          ON CONFLICT (draft_id) DO UPDATE SET state = excluded.state,
            upto_seq = excluded.upto_seq, updated_at = excluded.updated_at
          WHERE excluded.upto_seq >= s.upto_seq
        ),
        del AS (
          DELETE FROM draft_updates
          WHERE draft_id IN (SELECT draft_id FROM lease) AND seq <= ${uptoSeq}
        )
        SELECT count(*)::int AS held FROM lease`);
      if (r.rows[0]!.held === 0) throw new FencedError([draftId]);
    },
  };
}

export type PgDraftStore = ReturnType<typeof createPgDraftStore>;

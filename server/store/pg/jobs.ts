import { and, eq, sql } from 'drizzle-orm';
import { jobs } from '#schema/db/pg-tables.ts';
import type { Async } from '../port.ts';
import {
  claimedJob,
  JOB_CLAIM_MAX,
  jobPayloadText,
  newClaimToken,
  newJobId,
  type createJobStore,
  type JobRow,
} from '../jobs.ts';
import type { Postgres } from './db.ts';
import { pgNowMs } from './leases.ts';

/**
 * PostgreSQL's clock in epoch ms: every process compares due times and claim expiries against the
 * one clock (PG-82). clock_timestamp(), not now(): a long transaction must not see time stand still.
 */
const dbNow = pgNowMs;

/**
 * The job table on PostgreSQL (PG-80 … PG-88): store/jobs.ts's calls for several processes. A
 * claim is one statement that locks due rows with FOR UPDATE SKIP LOCKED, so concurrent claimers
 * each take different rows and none waits on another (PG-83).
 */
export function createPgJobStore(pgx: Postgres, now: () => number = Date.now) {
  /** One atomic INSERT … ON CONFLICT on the partial unique index (PG-81): racing enqueues make one row. */
  async function upsert(row: Omit<JobRow, 'claimedBy' | 'claimToken' | 'claimExpiresAt'>) {
    await pgx
      .db()
      .insert(jobs)
      .values({ ...row, claimedBy: null, claimToken: null, claimExpiresAt: null })
      .onConflictDoUpdate({
        target: [jobs.kind, jobs.key],
        targetWhere: sql`${jobs.claimedBy} IS NULL`,
        set: {
          runAt: sql`least(${jobs.runAt}, excluded.run_at)`,
          attempts: sql`greatest(${jobs.attempts}, excluded.attempts)`,
        },
        // A coalesced enqueue that moves nothing writes nothing (no new row version on PostgreSQL).
        setWhere: sql`excluded.run_at < ${jobs.runAt} or excluded.attempts > ${jobs.attempts}`,
      });
  }

  return {
    async enqueue(kind: string, key: string, payload: unknown, runAt: number) {
      await upsert({
        id: newJobId(),
        kind,
        key,
        payload: jobPayloadText(kind, payload),
        runAt,
        attempts: 0,
        createdAt: now(),
      });
    },

    async claim(nodeId: string, kinds: readonly string[], limit: number, claimMs: number) {
      const n = Math.min(Math.max(Math.floor(limit), 0), JOB_CLAIM_MAX);
      if (n === 0 || kinds.length === 0) return [];
      const r = await pgx.db().execute<Record<string, unknown>>(sql`
        with due as (
          select j.id from jobs j
          where j.kind in ${[...kinds]} and j.run_at <= ${dbNow}
            and (j.claim_expires_at is null or j.claim_expires_at <= ${dbNow})
            -- One run of a kind and key at a time (PG-81). No race: a waiting row of a key
            -- appears only once the running row's claim committed (its insert waits on the
            -- unique index entry the claim is removing).
            and not exists (select 1 from jobs r where r.kind = j.kind and r.key = j.key
              and r.claim_expires_at > ${dbNow})
          order by j.run_at, j.id
          limit ${n}
          for update of j skip locked
        )
        update jobs set claimed_by = ${nodeId}, claim_token = ${newClaimToken()},
          claim_expires_at = ${dbNow} + ${claimMs}, attempts = jobs.attempts + 1
        from due where jobs.id = due.id
        returning jobs.id, jobs.kind, jobs.key, jobs.payload, jobs.run_at, jobs.attempts,
          jobs.claim_token`);
      return r.rows
        .map((row) =>
          claimedJob({
            id: row.id as string,
            kind: row.kind as string,
            key: row.key as string,
            payload: row.payload as string,
            runAt: Number(row.run_at),
            attempts: Number(row.attempts),
            claimToken: row.claim_token as string,
          }),
        )
        .sort((a, b) => a.runAt - b.runAt || (a.id < b.id ? -1 : 1));
    },

    async extend(id: string, claimToken: string, claimMs: number) {
      const r = await pgx
        .db()
        .update(jobs)
        .set({ claimExpiresAt: sql`${dbNow} + ${claimMs}` })
        .where(and(eq(jobs.id, id), eq(jobs.claimToken, claimToken)));
      return r.rowCount === 1;
    },

    async complete(id: string, claimToken: string) {
      const r = await pgx
        .db()
        .delete(jobs)
        .where(and(eq(jobs.id, id), eq(jobs.claimToken, claimToken)));
      return r.rowCount === 1;
    },

    /** Delete and re-insert in one transaction, so a sibling enqueued meanwhile merges (PG-81). */
    async retry(id: string, claimToken: string, runAt: number) {
      return pgx.atomically(async () => {
        const [r] = await pgx
          .db()
          .delete(jobs)
          .where(and(eq(jobs.id, id), eq(jobs.claimToken, claimToken)))
          .returning();
        if (!r) return false;
        await upsert({ ...r, runAt });
        return true;
      });
    },

    async release(id: string, claimToken: string) {
      return pgx.atomically(async () => {
        const [r] = await pgx
          .db()
          .delete(jobs)
          .where(and(eq(jobs.id, id), eq(jobs.claimToken, claimToken)))
          .returning();
        if (!r) return false;
        await upsert({ ...r, attempts: r.attempts - 1 });
        return true;
      });
    },

    async count(kind: string) {
      const [r] = await pgx
        .db()
        .select({ n: sql<number>`count(*)::int` })
        .from(jobs)
        .where(eq(jobs.kind, kind));
      return r!.n;
    },
  } satisfies Async<ReturnType<typeof createJobStore>>;
}

import { randomBytes } from 'node:crypto';
import { and, asc, eq, inArray, isNull, lte, or, sql } from 'drizzle-orm';
import { jobs } from '#schema/db/tables.ts';
import { AppError } from '#schema/errors.ts';
import type { Db } from './db.ts';
import type { Async } from './port.ts';

export type JobRow = typeof jobs.$inferSelect;

/** A claimed job as its runner sees it: `claimToken` proves the claim is still its own. */
export interface ClaimedJob {
  id: string;
  kind: string;
  key: string;
  payload: unknown;
  runAt: number;
  /** Claims so far, this one included (a claimer that died counts too). */
  attempts: number;
  claimToken: string;
}

/** The largest payload a job may carry, as UTF-8 JSON (PG-84): a job names work, it is not data. */
export const JOB_PAYLOAD_MAX_BYTES = 64 * 1024;
/** The most jobs one claim takes (PG-84). */
export const JOB_CLAIM_MAX = 100;

/**
 * The payload as stored, refused over the bound (PG-84). Our own code builds payloads (ids, not
 * content), so a large one is a server fault: `internal`, and the enqueuing change rolls back.
 */
export function jobPayloadText(kind: string, payload: unknown): string {
  const text = JSON.stringify(payload ?? null);
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > JOB_PAYLOAD_MAX_BYTES)
    throw new AppError(
      'internal',
      `A ${kind} job's payload is ${bytes} bytes; at most ${JOB_PAYLOAD_MAX_BYTES} are allowed.`,
    );
  return text;
}

export const newJobId = () => `job_${randomBytes(12).toString('base64url')}`;
export const newClaimToken = () => randomBytes(16).toString('base64url');

export function claimedJob(
  r: Pick<JobRow, 'id' | 'kind' | 'key' | 'payload' | 'runAt' | 'attempts' | 'claimToken'>,
): ClaimedJob {
  return {
    id: r.id,
    kind: r.kind,
    key: r.key,
    payload: JSON.parse(r.payload) as unknown,
    runAt: r.runAt,
    attempts: r.attempts,
    claimToken: r.claimToken!,
  };
}

/**
 * The job table on SQLite (PG-80 … PG-88), one process; durable across restarts. Each method is
 * one synchronous transaction. The PostgreSQL twin is server/store/pg/jobs.ts; the runner is
 * server/cluster/jobs.ts.
 */
export function createJobStore(db: Db, now: () => number = Date.now) {
  /**
   * Adds a waiting job, or (one of this kind and key waits already) keeps that one and moves its
   * `run_at` only earlier (PG-81): a burst of changes is one run, never postponed by the burst.
   * Prepared once: every durable change to a draft with `down` sections enqueues, and building
   * the statement anew cost ~70 µs a keystroke; now ~15 in all (bench:store J1).
   */
  const upsertStatement = db
    .insert(jobs)
    .values({
      id: sql.placeholder('id'),
      kind: sql.placeholder('kind'),
      key: sql.placeholder('key'),
      payload: sql.placeholder('payload'),
      runAt: sql.placeholder('runAt'),
      attempts: sql.placeholder('attempts'),
      createdAt: sql.placeholder('createdAt'),
      claimedBy: null,
      claimToken: null,
      claimExpiresAt: null,
    })
    .onConflictDoUpdate({
      target: [jobs.kind, jobs.key],
      targetWhere: sql`${jobs.claimedBy} IS NULL`,
      set: {
        runAt: sql`min(${jobs.runAt}, excluded.run_at)`,
        attempts: sql`max(${jobs.attempts}, excluded.attempts)`,
      },
      // A coalesced enqueue that moves nothing writes nothing (no new row version on PostgreSQL).
      setWhere: sql`excluded.run_at < ${jobs.runAt} or excluded.attempts > ${jobs.attempts}`,
    })
    .prepare();
  function upsert(row: Omit<JobRow, 'claimedBy' | 'claimToken' | 'claimExpiresAt'>): void {
    upsertStatement.run(row);
  }

  return {
    enqueue(kind: string, key: string, payload: unknown, runAt: number): void {
      upsert({
        id: newJobId(),
        kind,
        key,
        payload: jobPayloadText(kind, payload),
        runAt,
        attempts: 0,
        createdAt: now(),
      });
    },

    /**
     * Claims up to `limit` due jobs of `kinds` (waiting ones, or ones whose claim expired), none
     * of a kind and key another live claim holds (PG-81).
     */
    claim(nodeId: string, kinds: readonly string[], limit: number, claimMs: number): ClaimedJob[] {
      const n = Math.min(Math.max(Math.floor(limit), 0), JOB_CLAIM_MAX);
      if (n === 0 || kinds.length === 0) return [];
      return db.transaction((tx) => {
        const t = now();
        const due = tx
          .select({ id: jobs.id })
          .from(jobs)
          .where(
            and(
              inArray(jobs.kind, [...kinds]),
              lte(jobs.runAt, t),
              or(isNull(jobs.claimExpiresAt), lte(jobs.claimExpiresAt, t)),
              // One run of a kind and key at a time: not while another row of it holds a live claim.
              sql`not exists (select 1 from jobs r where r.kind = ${jobs.kind}
                and r.key = ${jobs.key} and r.claim_expires_at > ${t})`,
            ),
          )
          .orderBy(asc(jobs.runAt), asc(jobs.id))
          .limit(n)
          .all();
        if (due.length === 0) return [];
        const claimToken = newClaimToken();
        return tx
          .update(jobs)
          .set({
            claimedBy: nodeId,
            claimToken,
            claimExpiresAt: t + claimMs,
            attempts: sql`${jobs.attempts} + 1`,
          })
          .where(
            inArray(
              jobs.id,
              due.map((d) => d.id),
            ),
          )
          .returning()
          .all()
          .map(claimedJob);
      });
    },

    /** Keeps a claim `claimMs` longer; false when it is no longer ours (expired and taken). */
    extend(id: string, claimToken: string, claimMs: number): boolean {
      return (
        db
          .update(jobs)
          .set({ claimExpiresAt: now() + claimMs })
          .where(and(eq(jobs.id, id), eq(jobs.claimToken, claimToken)))
          .run().changes === 1
      );
    },

    /** Done: deletes the job if the claim is still ours; a stale token changes nothing (PG-82). */
    complete(id: string, claimToken: string): boolean {
      return (
        db
          .delete(jobs)
          .where(and(eq(jobs.id, id), eq(jobs.claimToken, claimToken)))
          .run().changes === 1
      );
    },

    /**
     * Gives a claimed job back to wait until `runAt` (its attempts kept). If the same kind and key
     * was enqueued meanwhile, the two become one row (PG-81). False when the claim is not ours.
     */
    retry(id: string, claimToken: string, runAt: number): boolean {
      return db.transaction((tx) => {
        const [r] = tx
          .delete(jobs)
          .where(and(eq(jobs.id, id), eq(jobs.claimToken, claimToken)))
          .returning()
          .all();
        if (!r) return false;
        upsert({ ...r, runAt });
        return true;
      });
    },

    /**
     * Gives a claimed job back due now, its claim not counted as an attempt: the runner stopped
     * before or while running it (PG-88). False when the claim is not ours.
     */
    release(id: string, claimToken: string): boolean {
      return db.transaction((tx) => {
        const [r] = tx
          .delete(jobs)
          .where(and(eq(jobs.id, id), eq(jobs.claimToken, claimToken)))
          .returning()
          .all();
        if (!r) return false;
        upsert({ ...r, attempts: r.attempts - 1 });
        return true;
      });
    },

    /** How many jobs of `kind` exist (waiting or claimed). */
    count(kind: string): number {
      return db
        .select({ n: sql<number>`count(*)` })
        .from(jobs)
        .where(eq(jobs.kind, kind))
        .get()!.n;
    },
  };
}

export type JobStore = ReturnType<typeof createJobStore>;

/**
 * The SQLite job store through the port (PG-80), for the runner: each call still one synchronous
 * transaction, its answer given as a promise.
 */
export function sqliteJobQueue(db: Db, now: () => number = Date.now): Async<JobStore> {
  const s = createJobStore(db, now);
  return {
    enqueue: async (...a) => s.enqueue(...a),
    claim: async (...a) => s.claim(...a),
    extend: async (...a) => s.extend(...a),
    complete: async (...a) => s.complete(...a),
    retry: async (...a) => s.retry(...a),
    release: async (...a) => s.release(...a),
    count: async (...a) => s.count(...a),
  };
}

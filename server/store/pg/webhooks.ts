import {
  and,
  asc,
  count,
  desc,
  eq,
  gte,
  isNotNull,
  isNull,
  lt,
  lte,
  notInArray,
  or,
  sql,
} from 'drizzle-orm';
import { releases, webhookDeliveries, webhooks } from '#schema/db/pg-tables.ts';
import type { Async } from '../port.ts';
import { releaseFacts } from '../webhook-release.ts';
import type { createWebhookStore, DeliveryRow, WebhookRow } from '../webhooks.ts';
import { bytewise } from './bytewise.ts';
import type { Postgres } from './db.ts';
import { pgNowMs } from './leases.ts';
import { LOCK, lockBeforeRead } from './locks.ts';

const d = webhookDeliveries;

/** A delivery's lease ran out (or it never had one) by PostgreSQL's clock (PG-170). */
const leaseFree = or(isNull(d.leaseUntil), lte(d.leaseUntil, pgNowMs));

/**
 * Webhook endpoints and their outbox on PostgreSQL (PG-43); see server/domain/webhooks.ts. Several
 * processes send from one outbox: a send is taken by the conditional UPDATE of `claim` and recorded
 * by the lease-checked UPDATE of `settle`, so under READ COMMITTED exactly one process holds a
 * delivery at a time and a process whose lease was taken over records nothing. Due times and
 * lease ends are compared with PostgreSQL's clock, never a process's (PG-170): the `now` the
 * domain passes is its own clock, which may be off; a node running ahead cannot take a live lease.
 */
export function createPgWebhookStore(pgx: Postgres) {
  return {
    async insert(row: WebhookRow): Promise<void> {
      await pgx.db().insert(webhooks).values(row);
    },
    async get(id: string): Promise<WebhookRow | undefined> {
      const [r] = await pgx.db().select().from(webhooks).where(eq(webhooks.id, id));
      return r;
    },
    ofProject: async (projectId: string): Promise<WebhookRow[]> =>
      pgx
        .db()
        .select()
        .from(webhooks)
        .where(eq(webhooks.projectId, projectId))
        .orderBy(asc(webhooks.createdAt), bytewise(webhooks.id)),
    /** Inside a transaction, under the project's limit lock (PG-130, PG-136). */
    async count(projectId: string): Promise<number> {
      await lockBeforeRead(pgx, LOCK.limit('webhooks', projectId));
      const [r] = await pgx
        .db()
        .select({ n: count() })
        .from(webhooks)
        .where(eq(webhooks.projectId, projectId));
      return r!.n;
    },
    async update(id: string, set: Partial<Omit<WebhookRow, 'id' | 'projectId'>>): Promise<void> {
      await pgx.db().update(webhooks).set(set).where(eq(webhooks.id, id));
    },
    async remove(id: string): Promise<void> {
      await pgx.db().delete(webhooks).where(eq(webhooks.id, id));
    },

    async insertDelivery(row: DeliveryRow): Promise<void> {
      await pgx.db().insert(d).values(row);
    },
    async delivery(id: string): Promise<DeliveryRow | undefined> {
      const [r] = await pgx.db().select().from(d).where(eq(d.id, id));
      return r;
    },
    async pendingCount(webhookId: string): Promise<number> {
      // After the ledger lock when an event queues it (the reactor), alone otherwise: one order.
      await lockBeforeRead(pgx, LOCK.limit('deliveries', webhookId));
      const [r] = await pgx
        .db()
        .select({ n: count() })
        .from(d)
        .where(and(eq(d.webhookId, webhookId), eq(d.state, 'pending')));
      return r!.n;
    },
    deliveries: async (
      webhookId: string,
      before: DeliveryRow | null,
      limit: number,
    ): Promise<DeliveryRow[]> =>
      pgx
        .db()
        .select()
        .from(d)
        .where(
          and(
            eq(d.webhookId, webhookId),
            before
              ? or(
                  lt(d.createdAt, before.createdAt),
                  and(eq(d.createdAt, before.createdAt), sql`${bytewise(d.id)} < ${before.id}`),
                )
              : undefined,
          ),
        )
        .orderBy(desc(d.createdAt), sql`${bytewise(d.id)} desc`)
        .limit(limit),
    async due(
      _now: number,
      busy: string[],
      limit: number,
      busyProjects: string[] = [],
    ): Promise<DeliveryRow[]> {
      const rows = await pgx
        .db()
        .select({ d })
        .from(d)
        .innerJoin(webhooks, eq(webhooks.id, d.webhookId))
        .where(
          and(
            eq(d.state, 'pending'),
            lte(d.nextAttemptAt, pgNowMs),
            leaseFree,
            eq(webhooks.enabled, true),
            busy.length > 0 ? notInArray(d.webhookId, busy) : undefined,
            busyProjects.length > 0 ? notInArray(d.projectId, busyProjects) : undefined,
          ),
        )
        .orderBy(asc(d.nextAttemptAt), asc(d.createdAt), bytewise(d.id))
        .limit(limit);
      return rows.map((r) => r.d);
    },
    async nextDueAt(): Promise<number | null> {
      // SQLite's two-argument max() is greatest(); a null attempt time leaves the row out there
      // (max is null, min skips it) while greatest() would skip the null, hence the filter.
      const [r] = await pgx
        .db()
        .select({
          at: sql<
            number | null
          >`min(greatest(${d.nextAttemptAt}, coalesce(${d.leaseUntil}, 0)))`.mapWith(Number),
        })
        .from(d)
        .innerJoin(webhooks, eq(webhooks.id, d.webhookId))
        .where(and(eq(d.state, 'pending'), eq(webhooks.enabled, true), isNotNull(d.nextAttemptAt)));
      return r?.at ?? null;
    },
    /**
     * Takes a delivery for `leaseMs` from PostgreSQL's clock and answers the lease's end (what
     * `settle` names it by), or null. One conditional UPDATE: a racing process waits for the row
     * lock, re-reads the row under READ COMMITTED, finds the lease taken and changes nothing.
     */
    async claim(id: string, _now: number, leaseMs: number): Promise<number | null> {
      const [r] = await pgx
        .db()
        .update(d)
        .set({ leaseUntil: sql`${pgNowMs} + ${Math.max(1, Math.round(leaseMs))}::bigint` })
        .where(and(eq(d.id, id), eq(d.state, 'pending'), leaseFree))
        .returning({ leaseUntil: d.leaseUntil });
      return r?.leaseUntil ?? null;
    },
    async settle(
      id: string,
      lease: number,
      set: Pick<DeliveryRow, 'state' | 'attempts' | 'nextAttemptAt'>,
    ): Promise<boolean> {
      const r = await pgx
        .db()
        .update(d)
        .set({ ...set, leaseUntil: null })
        .where(and(eq(d.id, id), eq(d.leaseUntil, lease)));
      return r.rowCount === 1;
    },
    async succeededSince(webhookId: string, since: number): Promise<boolean> {
      const rows = await pgx
        .db()
        .select({ id: d.id })
        .from(d)
        .where(and(eq(d.webhookId, webhookId), eq(d.state, 'succeeded'), gte(d.createdAt, since)))
        .limit(1);
      return rows.length > 0;
    },
    async trim(webhookId: string, keep: number): Promise<number> {
      const r = await pgx.db().execute(sql`DELETE FROM webhook_deliveries WHERE id IN (
          SELECT id FROM webhook_deliveries WHERE webhook_id = ${webhookId} AND state != 'pending'
          ORDER BY created_at DESC, id COLLATE "C" DESC OFFSET ${keep})`);
      return r.rowCount ?? 0;
    },
    async prune(cutoff: number): Promise<number> {
      const r = await pgx.db().delete(d).where(lt(d.createdAt, cutoff));
      return r.rowCount ?? 0;
    },
    /**
     * The record and its place in one statement, so both read one committed state. The place
     * counts the environment's records with a lower seq: a record's place never changes later
     * because the releases store appends a project's records one at a time (its chain lock), so
     * no lower seq commits after a higher one within an environment.
     */
    async release(seq: number) {
      const [row] = await pgx
        .db()
        .select({
          r: releases,
          environmentSeq: sql<number>`(SELECT count(*)::int FROM releases e
            WHERE e.environment_id = releases.environment_id AND e.seq <= releases.seq)`,
        })
        .from(releases)
        .where(eq(releases.seq, seq));
      return row ? releaseFacts(row.r, row.environmentSeq) : undefined;
    },
    enabledOf: async (projectId: string): Promise<WebhookRow[]> =>
      pgx
        .db()
        .select()
        .from(webhooks)
        .where(and(eq(webhooks.projectId, projectId), eq(webhooks.enabled, true)))
        .orderBy(asc(webhooks.createdAt), bytewise(webhooks.id)),
  } satisfies Async<ReturnType<typeof createWebhookStore>>;
}

export type PgWebhookStore = ReturnType<typeof createPgWebhookStore>;

import type { Async } from './port.ts';
import { and, asc, desc, eq, gte, isNull, lt, lte, or, sql } from 'drizzle-orm';
import { releases, webhookDeliveries, webhooks } from '#schema/db/tables.ts';
import type { Db } from './db.ts';
import { releaseFacts } from './webhook-release.ts';

export type WebhookRow = typeof webhooks.$inferSelect;
export type DeliveryRow = typeof webhookDeliveries.$inferSelect;

/** Webhook endpoints and their outbox (WH); see server/domain/webhooks.ts. */
export function createWebhookStore(db: Db) {
  return {
    insert(row: WebhookRow): void {
      db.insert(webhooks).values(row).run();
    },
    get(id: string): WebhookRow | undefined {
      return db.select().from(webhooks).where(eq(webhooks.id, id)).get();
    },
    /** A project's endpoints, oldest first. */
    ofProject(projectId: string): WebhookRow[] {
      return db
        .select()
        .from(webhooks)
        .where(eq(webhooks.projectId, projectId))
        .orderBy(asc(webhooks.createdAt), asc(webhooks.id))
        .all();
    },
    count(projectId: string): number {
      return db
        .select({ n: sql<number>`count(*)` })
        .from(webhooks)
        .where(eq(webhooks.projectId, projectId))
        .get()!.n;
    },
    update(id: string, set: Partial<Omit<WebhookRow, 'id' | 'projectId'>>): void {
      db.update(webhooks).set(set).where(eq(webhooks.id, id)).run();
    },
    remove(id: string): void {
      db.delete(webhooks).where(eq(webhooks.id, id)).run();
    },

    insertDelivery(row: DeliveryRow): void {
      db.insert(webhookDeliveries).values(row).run();
    },
    delivery(id: string): DeliveryRow | undefined {
      return db.select().from(webhookDeliveries).where(eq(webhookDeliveries.id, id)).get();
    },
    /** Deliveries still to send for an endpoint (the WH-13 bound). */
    pendingCount(webhookId: string): number {
      return db
        .select({ n: sql<number>`count(*)` })
        .from(webhookDeliveries)
        .where(
          and(eq(webhookDeliveries.webhookId, webhookId), eq(webhookDeliveries.state, 'pending')),
        )
        .get()!.n;
    },
    /** An endpoint's deliveries, newest first, older than `before` (a delivery of it) when given. */
    deliveries(webhookId: string, before: DeliveryRow | null, limit: number): DeliveryRow[] {
      return db
        .select()
        .from(webhookDeliveries)
        .where(
          and(
            eq(webhookDeliveries.webhookId, webhookId),
            before
              ? or(
                  lt(webhookDeliveries.createdAt, before.createdAt),
                  and(
                    eq(webhookDeliveries.createdAt, before.createdAt),
                    lt(webhookDeliveries.id, before.id),
                  ),
                )
              : undefined,
          ),
        )
        .orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id))
        .limit(limit)
        .all();
    },
    /**
     * Pending deliveries due at `now` whose lease (if any) ran out, of enabled endpoints, oldest
     * first, skipping endpoints in `busy` (at their own bound of sends) and projects in
     * `busyProjects` (at theirs, SEC-41).
     */
    due(now: number, busy: string[], limit: number, busyProjects: string[] = []): DeliveryRow[] {
      return db
        .select({ d: webhookDeliveries })
        .from(webhookDeliveries)
        .innerJoin(webhooks, eq(webhooks.id, webhookDeliveries.webhookId))
        .where(
          and(
            eq(webhookDeliveries.state, 'pending'),
            lte(webhookDeliveries.nextAttemptAt, now),
            or(isNull(webhookDeliveries.leaseUntil), lte(webhookDeliveries.leaseUntil, now)),
            eq(webhooks.enabled, true),
            busy.length > 0 ? sql`${webhookDeliveries.webhookId} not in ${busy}` : undefined,
            busyProjects.length > 0
              ? sql`${webhookDeliveries.projectId} not in ${busyProjects}`
              : undefined,
          ),
        )
        .orderBy(asc(webhookDeliveries.nextAttemptAt))
        .limit(limit)
        .all()
        .map((r) => r.d);
    },
    /** When the next pending delivery of an enabled endpoint is due (its attempt or its lease's end), or null. */
    nextDueAt(): number | null {
      return (
        db
          .select({
            at: sql<
              number | null
            >`min(max(${webhookDeliveries.nextAttemptAt}, coalesce(${webhookDeliveries.leaseUntil}, 0)))`,
          })
          .from(webhookDeliveries)
          .innerJoin(webhooks, eq(webhooks.id, webhookDeliveries.webhookId))
          .where(and(eq(webhookDeliveries.state, 'pending'), eq(webhooks.enabled, true)))
          .get()?.at ?? null
      );
    },
    /**
     * Takes a delivery for one send for `leaseMs` from `now` and answers the lease's end (what
     * `settle` names it by); null when another process (or an earlier run) holds it or it is no
     * longer pending. One process on SQLite: its own clock. PostgreSQL's store uses its own (PG-170).
     */
    claim(id: string, now: number, leaseMs: number): number | null {
      const leaseUntil = now + leaseMs;
      const changed = db
        .update(webhookDeliveries)
        .set({ leaseUntil })
        .where(
          and(
            eq(webhookDeliveries.id, id),
            eq(webhookDeliveries.state, 'pending'),
            or(isNull(webhookDeliveries.leaseUntil), lte(webhookDeliveries.leaseUntil, now)),
          ),
        )
        .run().changes;
      return changed === 1 ? leaseUntil : null;
    },
    /** Records a send's outcome; false when the lease was lost meanwhile (another process took it). */
    settle(
      id: string,
      lease: number,
      set: Pick<DeliveryRow, 'state' | 'attempts' | 'nextAttemptAt'>,
    ): boolean {
      return (
        db
          .update(webhookDeliveries)
          .set({ ...set, leaseUntil: null })
          .where(and(eq(webhookDeliveries.id, id), eq(webhookDeliveries.leaseUntil, lease)))
          .run().changes === 1
      );
    },
    /** Whether a delivery of the endpoint made at or after `since` succeeded. */
    succeededSince(webhookId: string, since: number): boolean {
      return (
        db
          .select({ id: webhookDeliveries.id })
          .from(webhookDeliveries)
          .where(
            and(
              eq(webhookDeliveries.webhookId, webhookId),
              eq(webhookDeliveries.state, 'succeeded'),
              gte(webhookDeliveries.createdAt, since),
            ),
          )
          .limit(1)
          .get() !== undefined
      );
    },
    /** An endpoint's settled deliveries past its newest `keep` are deleted (SEC-42: the outbox is bounded); pending ones stay. */
    trim(webhookId: string, keep: number): number {
      return db.run(sql`DELETE FROM webhook_deliveries WHERE id IN (
          SELECT id FROM webhook_deliveries WHERE webhook_id = ${webhookId} AND state != 'pending'
          ORDER BY created_at DESC LIMIT -1 OFFSET ${keep})`).changes;
    },
    /** Deliveries older than `cutoff` (any state) are deleted (the retention sweep, WH-13). */
    prune(cutoff: number): number {
      return db.delete(webhookDeliveries).where(lt(webhookDeliveries.createdAt, cutoff)).run()
        .changes;
    },
    /** A release record with its place among its environment's records (payload facts, WH-5). */
    release(seq: number) {
      const r = db.select().from(releases).where(eq(releases.seq, seq)).get();
      if (!r) return undefined;
      const environmentSeq = db
        .select({ n: sql<number>`count(*)` })
        .from(releases)
        .where(and(eq(releases.environmentId, r.environmentId), lte(releases.seq, seq)))
        .get()!.n;
      return releaseFacts(r, environmentSeq);
    },
    /** The project's enabled endpoints. */
    enabledOf(projectId: string): WebhookRow[] {
      return db
        .select()
        .from(webhooks)
        .where(and(eq(webhooks.projectId, projectId), eq(webhooks.enabled, true)))
        .all();
    },
  };
}

/** The port the domain sees (PG-10). */
export type WebhookStore = Async<ReturnType<typeof createWebhookStore>>;

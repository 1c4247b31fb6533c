import { describe, expect, it } from 'vitest';
import { eq, sql } from 'drizzle-orm';
import { webhookDeliveries } from '#schema/db/pg-tables.ts';
import { createProjectEvents } from '#server/domain/events.ts';
import { createSealer } from '#server/domain/sealer.ts';
import { createWebhooks, newWebhookSecret } from '#server/domain/webhooks.ts';
import { withAfterCommit } from '#server/store/after-commit.ts';
import type { Postgres } from '#server/store/pg/db.ts';
import { createPgAccountStore } from '#server/store/pg/accounts.ts';
import { createPgAuditStore } from '#server/store/pg/audit.ts';
import { createPgEventStore } from '#server/store/pg/events.ts';
import { createPgProjectStore } from '#server/store/pg/projects.ts';
import { createPgWebhookStore } from '#server/store/pg/webhooks.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { T0, pgStores, seedProject } from '../helpers/dialects.ts';
import { postgresPerFile } from '../helpers/pg-per-file.ts';
import { webhookReceiver } from '../helpers/webhook-receiver.ts';

/**
 * The webhook worker on PostgreSQL (PG-170 … PG-174), in this process: each "process" is the
 * domain as start.ts builds it over its own pool, a real receiver on loopback.
 */
const cleanup = cleanupAfterEach();
const pg = postgresPerFile(cleanup);
const sealer = createSealer(Buffer.alloc(32, 7));
const HOOK = 'wh_1';

async function seed(url: string): Promise<void> {
  await createPgAccountStore(pg.pgx).insertUser({
    id: 'u1',
    email: 'a@example.com',
    name: 'A',
    passwordHash: 'x',
    isInstanceAdmin: true,
    createdAt: T0,
  });
  await seedProject(pgStores(pg.pgx), 'p1');
  await createPgWebhookStore(pg.pgx).insert({
    id: HOOK,
    projectId: 'p1',
    url,
    description: '',
    events: ['*'],
    enabled: true,
    disabledReason: null,
    sealedSecret: sealer.seal(newWebhookSecret(), `webhook:${HOOK}`),
    previousSealedSecret: null,
    previousSecretValidUntil: null,
    createdBy: 'u1',
    createdAt: T0,
  });
}

/**
 * Resolves once the worker looked at the outbox `n` more times (each look ends with `nextDueAt`,
 * after its claims and the start of its sends): a worker's progress without sleeping.
 */
function looksOf(store: ReturnType<typeof createPgWebhookStore>) {
  let looks = 0;
  const waiters: { at: number; resolve: () => void }[] = [];
  const nextDueAt = store.nextDueAt;
  store.nextDueAt = async () => {
    const at = await nextDueAt();
    looks++;
    for (const w of waiters.filter((x) => x.at <= looks)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
    return at;
  };
  return (n: number) => new Promise<void>((resolve) => waiters.push({ at: looks + n, resolve }));
}

/** One process's webhooks on `o`, started; `looked(n)` waits for n more looks at the outbox. */
function processOn(o: Postgres, opts: { now?: () => number; timeoutMs?: number } = {}) {
  const { atomically, afterCommit } = withAfterCommit(o);
  const events = createProjectEvents(createPgEventStore(o));
  const store = createPgWebhookStore(o);
  const looked = looksOf(store);
  const webhooks = createWebhooks({
    atomically,
    afterCommit,
    store,
    projects: createPgProjectStore(o),
    events,
    sealer,
    requireProjectAdmin: () => Promise.resolve(),
    userName: () => Promise.resolve(null),
    release: () => Promise.resolve(undefined),
    requiredChecks: () => Promise.resolve([]),
    absoluteUrl: (path) => `http://stagecoach.test${path}`,
    config: {
      webhookAllowPrivate: true,
      webhookTimeoutMs: opts.timeoutMs ?? 2000,
      webhookRetryScheduleMs: [100],
    },
    audit: (e, now) => createPgAuditStore(o).audit(e, now),
    log: () => {},
    ...(opts.now ? { now: opts.now } : {}),
    pollMs: 50,
  });
  webhooks.start();
  cleanup.push(() => webhooks.stop());
  /** A feedback post: one `feedback.created` delivery for the endpoint. */
  const feedback = (feedbackId: string) =>
    events.emit({
      projectId: 'p1',
      environmentId: 'p1-dev',
      kind: 'feedback',
      actorId: null,
      subject: { feedbackId, action: 'posted' },
    });
  return { webhooks, atomically, feedback, looked, store, pgx: o };
}

const feedbackIdOf = (body: string) =>
  (JSON.parse(body) as { data: { feedbackId: string } }).data.feedbackId;

/** The delivery rows of the endpoint as another connection sees them (committed ones only). */
async function committedDeliveries(o: Postgres, messageId?: string) {
  return await o
    .db()
    .select()
    .from(webhookDeliveries)
    .where(messageId ? eq(webhookDeliveries.messageId, messageId) : undefined);
}

describe('PG-172, PG-173: a webhook is sent only for a change that committed, and after it', () => {
  it('PG-173 a change that goes on after queuing is sent only once it committed: the receiver sees the row through its own connection', async () => {
    const receiver = await webhookReceiver(cleanup);
    await seed(receiver.url);
    const observer = await pg.otherProcess();
    const a = processOn(pg.pgx);
    // Every request is held until the test looked: what was committed when it arrived.
    receiver.answer(() => 'hold');
    let committed = false;
    const arrivedCommitted: boolean[] = [];
    const arrival = receiver.nth(1).then(() => arrivedCommitted.push(committed));

    await a.atomically(async () => {
      await a.feedback('f-committed');
      // The transaction stays open (awaiting something else, not PostgreSQL) while the worker
      // looks at the outbox twice, then does more work on PostgreSQL and commits.
      await a.looked(2);
      await a.pgx.db().execute(sql`select pg_sleep(0.05)`);
    });
    committed = true;
    const first = await receiver.nth(1);
    await arrival;
    expect(arrivedCommitted).toEqual([true]);
    const messageId = first.headers['webhook-id'] as string;
    expect(await committedDeliveries(observer, messageId)).toHaveLength(1);
    expect(feedbackIdOf(first.body)).toBe('f-committed');
    receiver.release();
  });

  it('PG-172 PG-173 a change that rolls back after queuing sends nothing, also when the worker is woken inside its transaction', async () => {
    const receiver = await webhookReceiver(cleanup);
    await seed(receiver.url);
    const observer = await pg.otherProcess();
    const a = processOn(pg.pgx);
    await expect(
      a.atomically(async () => {
        await a.feedback('f-rolled-back');
        a.webhooks.wake();
        await a.looked(2);
        throw new Error('refused after the event');
      }),
    ).rejects.toThrow('refused after the event');
    // A later committed change is delivered; the rolled-back one never was, and never existed.
    await a.atomically(async () => await a.feedback('f-after'));
    const next = await receiver.nth(1);
    expect(feedbackIdOf(next.body)).toBe('f-after');
    // Every send the worker started has ended.
    await a.webhooks.stop();
    expect(receiver.received.map((r) => feedbackIdOf(r.body))).toEqual(['f-after']);
    expect((await committedDeliveries(observer)).map((d) => feedbackIdOf(d.payload))).toEqual([
      'f-after',
    ]);
  });
});

describe('PG-170, PG-174: leases on PostgreSQL’s clock', () => {
  it('PG-174 a process whose clock runs an hour ahead never takes a delivery another process is sending; it is sent once', async () => {
    const receiver = await webhookReceiver(cleanup);
    await seed(receiver.url);
    receiver.answer((_r, n) => (n === 1 ? 'hold' : { status: 200 }));
    const a = processOn(pg.pgx, { timeoutMs: 5000 });
    await a.atomically(async () => await a.feedback('f-1'));
    const first = await receiver.nth(1);

    // B's clock is an hour ahead: by its own clock A's lease (5 + 5 s) ran out long ago.
    const b = processOn(await pg.otherProcess(), { now: () => Date.now() + 3_600_000 });
    // B looks at the outbox several times while A's send is held.
    b.webhooks.wake();
    await b.looked(5);
    receiver.release();
    const [row] = await committedDeliveries(b.pgx, first.headers['webhook-id'] as string);
    await expect
      .poll(async () => (await committedDeliveries(b.pgx, row!.messageId))[0]!.state)
      .toBe('succeeded');
    // Every send either process started has ended.
    await b.webhooks.stop();
    await a.webhooks.stop();
    expect(receiver.received).toHaveLength(1);
    expect((await committedDeliveries(b.pgx, row!.messageId))[0]!.attempts).toHaveLength(1);
  });
});

describe('PG-177: a retryable failure while queuing runs the whole change again', () => {
  it('PG-177 a deadlock reported by the outbox insert is not swallowed: the change runs again and commits with its delivery, sent once', async () => {
    const receiver = await webhookReceiver(cleanup);
    await seed(receiver.url);
    const observer = await pg.otherProcess();
    const a = processOn(pg.pgx);
    // The first insert fails as drizzle reports PostgreSQL's deadlock (the driver's error as cause).
    const insertDelivery = a.store.insertDelivery;
    let failures = 0;
    a.store.insertDelivery = async (row) => {
      if (failures++ === 0)
        throw new Error('Failed query', {
          cause: Object.assign(new Error('deadlock detected'), { code: '40P01' }),
        });
      await insertDelivery(row);
    };
    let runs = 0;
    await a.atomically(async () => {
      runs++;
      await a.feedback('f-retried');
    });
    expect(runs).toBe(2);
    await a.atomically(async () => await a.feedback('f-after'));
    await receiver.nth(2);
    await a.webhooks.stop();
    expect(receiver.received.map((r) => feedbackIdOf(r.body))).toEqual(['f-retried', 'f-after']);
    expect(
      (await committedDeliveries(observer)).map((d) => feedbackIdOf(d.payload)).sort(),
    ).toEqual(['f-after', 'f-retried']);
    const events = await observer
      .db()
      .execute<{ n: number }>(
        sql`select count(*)::int as n from project_events where kind = 'feedback'`,
      );
    expect(events.rows[0]!.n).toBe(2);
  });
});

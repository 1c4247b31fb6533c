import { describe, expect, it } from 'vitest';
import { eq, sql } from 'drizzle-orm';
import { environments } from '#schema/db/pg-tables.ts';
import { createLocalStore } from '../../server/store/local.ts';
import { createRetentionStore } from '../../server/store/retention.ts';
import { createReplicationStore, type BaseRow } from '../../server/store/replication.ts';
import { createScheduleStore, type ScheduledRow } from '../../server/store/schedule.ts';
import {
  createWebhookStore,
  type DeliveryRow,
  type WebhookRow,
} from '../../server/store/webhooks.ts';
import { createPgLocalStore } from '../../server/store/pg/local.ts';
import { createPgRetentionStore } from '../../server/store/pg/retention.ts';
import { createPgReplicationStore } from '../../server/store/pg/replication.ts';
import { createPgScheduleStore } from '../../server/store/pg/schedule.ts';
import { createPgWebhookStore } from '../../server/store/pg/webhooks.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { lockWaiters, race } from '../helpers/pg-per-file.ts';
import {
  sameOn,
  sameRows,
  seedRows,
  twoDatabasesPerTest,
  type TwoDatabases,
} from '../helpers/dialects.ts';

const dbs = twoDatabasesPerTest(cleanupAfterEach());
const T0 = 1_700_000_000_000;

/** A project `p`, its environment `p-env` and draft `p-draft`, in both databases. */
async function project(d: TwoDatabases, p: string): Promise<void> {
  await seedRows(d, 'projects', [{ id: p, name: p, preset: 'x', createdBy: 'u', createdAt: T0 }]);
  await seedRows(d, 'environments', [
    { id: `${p}-env`, projectId: p, name: 'Dev', kind: 'dev', position: 0, color: 'blue' },
    { id: `${p}-prod`, projectId: p, name: 'Prod', kind: 'prod', position: 1, color: 'red' },
  ]);
  await seedRows(d, 'drafts', [
    { id: `${p}-draft`, projectId: p, environmentId: `${p}-env`, kind: 'main', createdAt: T0 },
  ]);
}

describe('PG-40: the local store answers on PostgreSQL as on SQLite', () => {
  it('overrides, secrets, settings and runtime keys, with the overlay revision bumped alike', async () => {
    const d = dbs();
    await project(d, 'l1');
    const env = 'l1-env';
    const same = sameOn(createLocalStore(d.lite), createPgLocalStore(d.pgx));
    const by = { updatedBy: 'u', updatedAt: T0 };

    await same((s) => s.overrides(env));
    // Names that a language collation would sort otherwise ('a' < 'B' there, 'B' < 'a' bytewise).
    for (const name of ['b', 'B', 'a', '_x'])
      await same((s) => s.setOverride({ environmentId: env, name, value: `v-${name}`, ...by }));
    await same((s) => s.setOverride({ environmentId: env, name: 'a', value: 'again', ...by }));
    await same((s) => s.overrides(env));
    await same((s) => s.deleteOverride(env, 'b'));
    await same((s) => s.deleteOverride(env, 'b'));
    await same((s) => s.overrides(env));

    const sealed = Buffer.from([0, 1, 2, 255]);
    await same((s) => s.secrets(env));
    await same((s) => s.secretCount(env));
    for (const name of ['K2', 'k1'])
      await same((s) => s.setSecret({ environmentId: env, name, sealed, ...by }));
    await same((s) =>
      s.setSecret({ environmentId: env, name: 'k1', sealed: Buffer.from('z'), ...by }),
    );
    await same((s) => s.secrets(env));
    await same((s) => s.secretCount(env));
    await same((s) => s.hasSecret(env, 'k1'));
    await same((s) => s.hasSecret(env, 'nope'));
    await same((s) => s.deleteSecret(env, 'K2'));
    await same((s) => s.deleteSecret(env, 'K2'));
    await same((s) => s.secretCount(env));

    await same((s) => s.settings(env));
    const json = {
      guardrails: {
        blockedTopics: ['x'],
        maxResponseChars: 99,
        redactPii: false,
        escalateBelowConfidence: 0.5,
      },
      evaluators: [],
    };
    await same((s) => s.setSettings({ environmentId: env, json, ...by }));
    await same((s) =>
      s.setSettings({ environmentId: env, json: { ...json, evaluators: [] }, ...by }),
    );
    await same((s) => s.settings(env));

    await same((s) => s.runtimeKeyCount(env));
    for (const [i, id] of ['rk-b', 'rk-a', 'rk-c'].entries())
      await same((s) =>
        s.insertRuntimeKey({
          id,
          environmentId: env,
          name: id,
          keyHash: `hash-${id}`,
          createdBy: 'u',
          createdAt: T0 + i,
        }),
      );
    await same((s) => s.runtimeKeys(env));
    await same((s) => s.runtimeKeyCount(env));
    await same((s) => s.runtimeKeyEnvironment('hash-rk-a'));
    await same((s) => s.runtimeKeyEnvironment('hash-none'));
    await same((s) => s.deleteRuntimeKey(env, 'rk-a'));
    await same((s) => s.deleteRuntimeKey(env, 'rk-a'));
    await same((s) => s.deleteRuntimeKey('l1-prod', 'rk-b'));
    await same((s) => s.runtimeKeys(env));

    await sameRows(d, 'environments', (r) => String(r.id));
  });

  it('racing writes on several connections lose no overlay bump; of racing deletes one bumps', async () => {
    const d = dbs();
    await project(d, 'l2');
    const env = 'l2-env';
    const store = createPgLocalStore(d.pgx);
    const revision = async () =>
      (await d.pgx.db().select().from(environments).where(eq(environments.id, env)))[0]!
        .overlayRevision;
    const by = { updatedBy: 'u', updatedAt: T0 };
    await race(24, (i) =>
      i % 2 === 0
        ? store.setOverride({ environmentId: env, name: `n${i % 6}`, value: `${i}`, ...by })
        : store.setSecret({
            environmentId: env,
            name: `s${i % 6}`,
            sealed: Buffer.from([i]),
            ...by,
          }),
    );
    expect(await revision()).toBe(24);
    const deleted = await race(8, () => store.deleteOverride(env, 'n0'));
    expect(deleted.filter(Boolean)).toHaveLength(1);
    expect(await revision()).toBe(25);
  });
});

describe('PG-41: the replication store answers on PostgreSQL as on SQLite', () => {
  const base = (draftId: string, section: string, itemId: string, more: Partial<BaseRow> = {}) =>
    ({
      draftId,
      section,
      itemId,
      baseBlobId: `b-${itemId}`,
      conflictBlobId: null,
      updatedAt: T0,
      ...more,
    }) satisfies BaseRow;

  it('bases, conflicts, their counts, put and forget', async () => {
    const d = dbs();
    await project(d, 'r1');
    const draft = 'r1-draft';
    const same = sameOn(createReplicationStore(d.lite), createPgReplicationStore(d.pgx));
    await same((s) => s.bases(draft, 'prompts'));
    await same((s) => s.conflictCounts(draft));
    await same((s) => s.put([]));
    await same((s) =>
      s.put([
        base(draft, 'prompts', 'z'),
        base(draft, 'prompts', 'A', { conflictBlobId: 'deleted' }),
        base(draft, 'tools', 'a', { conflictBlobId: 'c-a' }),
        base(draft, 'prompts', 'm', { baseBlobId: null }),
        // The same key twice in one call: the last row is kept.
        base(draft, 'prompts', 'z', {
          baseBlobId: 'b-z2',
          conflictBlobId: 'c-z',
          updatedAt: T0 + 1,
        }),
      ]),
    );
    await same((s) => s.bases(draft, 'prompts'));
    await same((s) => s.conflicts(draft));
    await same((s) => s.conflictCounts(draft));
    await same((s) => s.put([base(draft, 'prompts', 'A', { updatedAt: T0 + 2 })]));
    await same((s) => s.conflicts(draft));
    await same((s) => s.forget(draft, 'prompts'));
    await same((s) => s.bases(draft, 'prompts'));
    await same((s) => s.conflictCounts(draft));
    await sameRows(d, 'replicationBases', (r) => `${r.draftId}/${r.section}/${r.itemId}`);
  });

  it('racing puts of overlapping items in opposite orders all commit (no deadlock)', async () => {
    const d = dbs();
    await project(d, 'r2');
    const store = createPgReplicationStore(d.pgx);
    const items = Array.from({ length: 60 }, (_, i) => `item-${String(i).padStart(2, '0')}`);
    await race(6, (k) => {
      const rows = items.map((id) => base('r2-draft', 'prompts', id, { updatedAt: T0 + k }));
      return store.put(k % 2 === 0 ? rows : rows.reverse());
    });
    expect(await store.bases('r2-draft', 'prompts')).toHaveLength(60);
  });
});

describe('PG-42: the schedule store answers on PostgreSQL as on SQLite', () => {
  const scheduled = (id: string, p: string, at: number, more: Partial<ScheduledRow> = {}) =>
    ({
      id,
      projectId: p,
      environmentId: `${p}-prod`,
      kind: 'publish',
      snapshotId: 'snap',
      expectedTargetSnapshotId: null,
      at,
      createdBy: 'u',
      message: null,
      confirmMissingSecrets: false,
      confirmUndoHotfix: true,
      state: 'pending',
      errorId: null,
      errorMessage: null,
      releaseSeq: null,
      createdAt: T0,
      finishedAt: null,
      ...more,
    }) satisfies ScheduledRow;

  it('scheduled releases, claims by finishing, and freeze windows', async () => {
    const d = dbs();
    await project(d, 's1');
    const env = 's1-prod';
    const same = sameOn(createScheduleStore(d.lite), createPgScheduleStore(d.pgx));
    await same((s) => s.nextAt());
    await same((s) => s.pendingCount(env));
    await same((s) => s.get('s1-a'));
    await same((s) => s.insert(scheduled('s1-a', 's1', T0 + 300)));
    await same((s) => s.insert(scheduled('s1-b', 's1', T0 + 100, { kind: 'sync', message: 'm' })));
    // Equal times: SQLite answers in insertion order, PostgreSQL by creation time, then id.
    await same((s) => s.insert(scheduled('s1-d', 's1', T0 + 200, { createdAt: T0 + 1 })));
    await same((s) => s.insert(scheduled('s1-c', 's1', T0 + 200, { createdAt: T0 + 5 })));
    await same((s) => s.get('s1-b'));
    await same((s) => s.pending(env));
    await same((s) => s.pendingCount(env));
    await same((s) => s.due(T0 + 200, 10));
    await same((s) => s.due(T0 + 1000, 2));
    await same((s) => s.nextAt());
    await same((s) =>
      s.finish('s1-b', { state: 'failed', errorId: 'frozen', errorMessage: 'no' }, T0 + 101),
    );
    await same((s) => s.finish('s1-b', { state: 'done', releaseSeq: 7 }, T0 + 102));
    await same((s) => s.finish('s1-d', { state: 'done', releaseSeq: 3 }, T0 + 201));
    await same((s) => s.setReleaseSeq('s1-d', 9));
    await same((s) => s.setReleaseSeq('s1-a', null));
    await same((s) => s.get('s1-d'));
    await same((s) => s.pending(env));
    await same((s) => s.nextAt());

    await same((s) => s.freeze(env));
    const windows = [
      { from: T0, to: T0 + 10, reason: 'launch' },
      { from: T0 + 20, to: T0 + 30, reason: null },
    ];
    await same((s) => s.putFreeze(env, windows, 'u', T0));
    await same((s) => s.putFreeze(env, windows.slice(1), 'v', T0 + 1));
    await same((s) => s.freeze(env));
    await sameRows(d, 'scheduledReleases', (r) => String(r.id));
    await sameRows(d, 'freezeWindows', (r) => String(r.environmentId));
  });

  it('of processes racing to finish one scheduled release exactly one wins', async () => {
    const d = dbs();
    await project(d, 's2');
    const store = createPgScheduleStore(d.pgx);
    for (let round = 0; round < 10; round++) {
      const id = `s2-${round}`;
      await store.insert(scheduled(id, 's2', T0 + round));
      const won = await race(6, (i) =>
        d.pgx.atomically(async () => {
          const ok = await store.finish(id, { state: 'done', releaseSeq: i }, T0 + 50);
          return ok ? i : -1;
        }),
      );
      const winners = won.filter((i) => i >= 0);
      expect(winners).toHaveLength(1);
      expect((await store.get(id))!.releaseSeq).toBe(winners[0]);
    }
  });
});

describe('PG-43: the webhook store answers on PostgreSQL as on SQLite', () => {
  const hook = (id: string, p: string, createdAt: number, more: Partial<WebhookRow> = {}) =>
    ({
      id,
      projectId: p,
      url: `https://example.com/${id}`,
      description: '',
      events: ['*'],
      enabled: true,
      disabledReason: null,
      sealedSecret: Buffer.from(`secret-${id}`),
      previousSealedSecret: null,
      previousSecretValidUntil: null,
      createdBy: 'u',
      createdAt,
      ...more,
    }) satisfies WebhookRow;
  const delivery = (
    id: string,
    webhookId: string,
    p: string,
    createdAt: number,
    more: Partial<DeliveryRow> = {},
  ) =>
    ({
      id,
      webhookId,
      projectId: p,
      messageId: `msg-${id}`,
      event: 'release.created',
      payload: '{"a":1}',
      state: 'pending',
      attempts: [],
      nextAttemptAt: createdAt,
      leaseUntil: null,
      createdAt,
      ...more,
    }) satisfies DeliveryRow;

  it('endpoints, the outbox, its leases, bounds and release facts', async () => {
    const d = dbs();
    await project(d, 'w1');
    await project(d, 'w1b');
    const same = sameOn(createWebhookStore(d.lite), createPgWebhookStore(d.pgx));
    await same((s) => s.ofProject('w1'));
    await same((s) => s.count('w1'));
    await same((s) => s.nextDueAt());
    await same((s) => s.insert(hook('w1-A', 'w1', T0)));
    await same((s) => s.insert(hook('w1-b', 'w1', T0)));
    await same((s) => s.insert(hook('w1-c', 'w1', T0 + 1, { events: ['release.created'] })));
    await same((s) => s.insert(hook('w1-o', 'w1b', T0)));
    await same((s) => s.get('w1-c'));
    await same((s) => s.get('none'));
    await same((s) => s.ofProject('w1'));
    await same((s) => s.count('w1'));
    await same((s) =>
      s.update('w1-c', {
        enabled: false,
        disabledReason: 'manual',
        previousSealedSecret: Buffer.from('p'),
      }),
    );
    await same((s) => s.enabledOf('w1'));

    // The outbox: ids that sort differently in a language collation, some at one time. Due times
    // and leases are hours from now: PostgreSQL compares them with its own clock (PG-170), SQLite
    // with the `now` it is given, and both are this machine's clock.
    const H = 3_600_000;
    const R = Date.now() - 10 * H;
    const rows = [
      delivery('d-B', 'w1-b', 'w1', R + 10),
      delivery('d-b', 'w1-b', 'w1', R + 10),
      delivery('d-a', 'w1-b', 'w1', R + 10, { state: 'succeeded', nextAttemptAt: null }),
      delivery('d-c', 'w1-b', 'w1', R + 20, {
        nextAttemptAt: R + 20 * H,
        attempts: [{ status: 500 }],
      }),
      delivery('d-d', 'w1-A', 'w1', R + 30, { leaseUntil: R + 11 * H }),
      delivery('d-D', 'w1-A', 'w1', R + 30, { leaseUntil: R + 100 }),
      delivery('d-e', 'w1-c', 'w1', R + 5),
      delivery('d-f', 'w1-o', 'w1b', R + 15),
      delivery('d-g', 'w1-b', 'w1', R + 25, { state: 'failed', nextAttemptAt: null }),
    ];
    for (const r of rows) await same((s) => s.insertDelivery(r));
    await same((s) => s.delivery('d-c'));
    await same((s) => s.pendingCount('w1-b'));
    let before: DeliveryRow | null = null;
    for (;;) {
      const page = await same((s) => s.deliveries('w1-b', before, 2));
      if (page.length === 0) break;
      before = page[page.length - 1]!;
    }
    await same((s) => s.due(Date.now(), [], 10));
    await same((s) => s.due(Date.now(), ['w1-A'], 10, ['w1b']));
    await same((s) => s.due(Date.now(), [], 2));
    await same((s) => s.nextDueAt());
    // A lease's end is each store's own (its clock plus the lease), so each is checked alone.
    const lite = createWebhookStore(d.lite);
    const pgStore = createPgWebhookStore(d.pgx);
    for (const s of [lite, pgStore]) {
      const t = Date.now();
      const lease = (await s.claim('d-b', t, 30_000))!;
      expect(lease).toBeGreaterThanOrEqual(t + 30_000);
      expect(lease).toBeLessThan(Date.now() + 30_000 + 1000);
      expect(await s.claim('d-b', Date.now(), 30_000)).toBeNull();
      expect(await s.claim('d-a', Date.now(), 30_000)).toBeNull();
      // A live lease is not taken; one that ran out is.
      expect(await s.claim('d-d', Date.now(), 30_000)).toBeNull();
      const expired = (await s.claim('d-D', Date.now(), 30_000))!;
      expect(expired).toBeGreaterThan(R + 100);
      const settled = { state: 'pending' as const, attempts: [], nextAttemptAt: R + 30 };
      expect(await s.settle('d-D', expired, settled)).toBe(true);
      expect(await s.settle('d-b', lease - 1, settled)).toBe(false);
      expect(
        await s.settle('d-b', lease, { state: 'succeeded', attempts: [], nextAttemptAt: null }),
      ).toBe(true);
      expect(
        await s.settle('d-b', lease, { state: 'failed', attempts: [], nextAttemptAt: null }),
      ).toBe(false);
    }
    await same((s) => s.nextDueAt());
    await same((s) => s.delivery('d-b'));
    await same((s) => s.succeededSince('w1-b', R + 10));
    await same((s) => s.succeededSince('w1-b', R + 11));
    await same((s) => s.trim('w1-b', 1));
    await same((s) => s.trim('w1-b', 1));
    await same((s) => s.prune(R + 10));
    await sameRows(d, 'webhookDeliveries', (r) => String(r.id));
    await same((s) => s.remove('w1-A'));
    await same((s) => s.ofProject('w1'));
    await sameRows(d, 'webhookDeliveries', (r) => String(r.id));

    // Release facts: a record's place among its environment's records.
    const rel = (seq: number, environmentId: string, detail: string | null) => ({
      seq,
      projectId: 'w1',
      environmentId,
      kind: 'publish',
      pointer: 'live',
      fromSnapshotId: seq === 901 ? null : 'x',
      toSnapshotId: `to-${seq}`,
      sourceEnvironmentId: null,
      actorId: 'u',
      message: seq === 903 ? 'why' : null,
      detail,
      createdAt: T0 + seq,
      prevHash: 'p',
      hash: `h-${seq}`,
    });
    await seedRows(d, 'releases', [
      rel(901, 'w1-prod', null),
      rel(902, 'w1-env', '{"section":"a"}'),
      rel(903, 'w1-prod', '{"scheduledId":"s"}'),
    ]);
    for (const seq of [901, 902, 903, 904]) await same((s) => s.release(seq));
  });

  it('PG-170 of processes racing to claim one delivery exactly one holds it until it runs out by PostgreSQL’s clock; a lost lease settles nothing', async () => {
    const d = dbs();
    await project(d, 'w2');
    const store = createPgWebhookStore(d.pgx);
    await store.insert(hook('w2-h', 'w2', T0));
    for (let round = 0; round < 10; round++) {
      const id = `w2-d${round}`;
      await store.insertDelivery(delivery(id, 'w2-h', 'w2', T0));
      const claimed = await race(6, (i) => store.claim(id, T0, 200 + i));
      expect(claimed.filter((c) => c !== null)).toHaveLength(1);
      const lease = claimed.find((c) => c !== null)!;
      expect(await store.claim(id, T0, 60_000)).toBeNull();
      // The lease ran out (by PostgreSQL's clock) and another process took it: the first one's
      // outcome is not recorded. Polled: nothing announces a lease's end.
      let second: number | null = null;
      const deadline = Date.now() + 10_000;
      while ((second = await store.claim(id, T0, 60_000)) === null) {
        if (Date.now() > deadline) throw new Error('the lease never ran out');
        await new Promise((r) => setTimeout(r, 20));
      }
      const settled = await race(2, (i) =>
        store.settle(id, i === 0 ? lease : second, {
          state: 'succeeded',
          attempts: [i],
          nextAttemptAt: null,
        }),
      );
      expect(settled).toEqual([false, true]);
      expect((await store.delivery(id))!.attempts).toEqual([1]);
    }
  });
});

describe('PG-44: the retention store answers on PostgreSQL as on SQLite', () => {
  const DAY = 86_400_000;
  const MAX = Number.MAX_SAFE_INTEGER;
  const tree = (...blobs: string[]) =>
    JSON.stringify({ prompts: Object.fromEntries(blobs.map((b) => [`i-${b}`, b])) });
  const snapshot = (p: string, id: string, createdAt: number, ...blobs: string[]) => ({
    projectId: p,
    id,
    tree: tree(...blobs),
    kind: 'request',
    createdBy: 'u',
    createdAt,
  });
  const request = (id: string, p: string, snapshotId: string, state: string, at: number) => ({
    id,
    projectId: p,
    kind: 'sync',
    sourceEnvironmentId: `${p}-env`,
    targetEnvironmentId: `${p}-prod`,
    snapshotId,
    requestedBy: 'u',
    createdAt: at,
    state,
    closedAt: state === 'open' ? null : at + 1,
  });
  const withoutRow = (rows: { row: number; projectId: string; id: string; tree: string }[]) =>
    rows.map(({ row: _, ...r }) => r).sort((a, b) => (a.id < b.id ? -1 : 1));

  it('abandoned requests, held snapshots, the paged scan, its re-check and the deletes', async () => {
    const d = dbs();
    const p = 'k1';
    await project(d, p);
    const lite = createRetentionStore(d.lite);
    const pg = createPgRetentionStore(d.pgx);
    const same = sameOn(lite, pg);
    const cutoff = T0 + 10 * DAY;
    await seedRows(
      d,
      'blobs',
      ['b1', 'b2', 'b3', 'b4', 'b5', 'b6'].map((id) => ({ id, json: id })),
    );
    // Three in one millisecond: a page boundary must not split them.
    await seedRows(d, 'snapshots', [
      snapshot(p, 's-void', T0, 'b1', 'b2'),
      snapshot(p, 's-rej', T0, 'b6'),
      snapshot(p, 's-open', T0, 'b5'),
      snapshot(p, 's-env', T0 + 1, 'b2', 'b3'),
      snapshot(p, 's-pin', T0 + 2, 'b4'),
      snapshot(p, 's-done', T0 + 3),
      snapshot(p, 's-recent', T0 + 4),
    ]);
    await seedRows(d, 'promotionRequests', [
      request('k1-void', p, 's-void', 'voided', T0),
      request('k1-rej', p, 's-rej', 'rejected', T0 + 1),
      request('k1-open', p, 's-open', 'open', T0 + 2),
      request('k1-done', p, 's-done', 'done', T0 + 3),
      request('k1-recent', p, 's-recent', 'voided', cutoff + DAY),
    ]);
    d.lite.run(sql`UPDATE environments SET snapshot_id = 's-env' WHERE id = 'k1-prod'`);
    await d.pgx
      .db()
      .execute(sql`UPDATE environments SET snapshot_id = 's-env' WHERE id = 'k1-prod'`);
    await seedRows(d, 'shareLinks', [
      {
        id: 'k1-link',
        environmentId: 'k1-prod',
        snapshotId: 's-pin',
        label: 'x',
        tokenHash: 'k1-token',
        allowFeedback: false,
        createdBy: 'u',
        createdAt: T0,
        expiresAt: T0 + DAY,
      },
    ]);
    await seedRows(d, 'replicationBases', [
      {
        draftId: 'k1-draft',
        section: 'prompts',
        itemId: 'i',
        baseBlobId: 'b5',
        conflictBlobId: 'b6',
        updatedAt: T0,
      },
    ]);

    await same(async (s) =>
      (await s.abandonedRequests(cutoff)).sort((a, b) => (a.id < b.id ? -1 : 1)),
    );
    await same((s) => s.referencedSnapshotIds(p, cutoff));
    await same((s) => s.tree(p, 's-void'));
    await same((s) => s.tree(p, 'none'));
    await same((s) => s.blobsNamedByReplication(['b1', 'b5', 'b6', 'b9']));

    // The scan in pages of two up to a mark (row numbers differ: rowid there, time here).
    const scan = async (s: typeof lite | typeof pg) => {
      const mark = await s.lastSnapshotRow();
      const seen = [];
      for (let after = 0; after < mark;) {
        const page = await s.treesAfter(after, mark, 2);
        if (page.length === 0) break;
        seen.push(...page);
        after = page[page.length - 1]!.row;
      }
      return { mark, seen: withoutRow(seen) };
    };
    const [liteScan, pgScan] = [await scan(lite), await scan(pg)];
    expect(pgScan.seen).toStrictEqual(liteScan.seen);
    expect(pgScan.seen.map((r) => r.id)).toContain('s-recent');

    // Frozen during the scan, one stamped before the mark (another process's slower clock):
    // the commit's re-check answers both, as SQLite's rowids do.
    await seedRows(d, 'snapshots', [
      snapshot(p, 's-late', T0 + 100, 'b1'),
      snapshot(p, 's-skewed', T0 - 100, 'b2'),
    ]);
    const liteNew = lite.treesAfter(liteScan.mark, MAX, MAX);
    const pgNew = await d.pgx.atomically(() => pg.treesAfter(pgScan.mark, MAX, MAX));
    expect(withoutRow(pgNew)).toStrictEqual(withoutRow(liteNew));
    expect(withoutRow(pgNew).map((r) => r.id)).toEqual(['s-late', 's-skewed']);

    for (const id of ['k1-void', 'k1-rej', 'k1-open']) await same((s) => s.deleteRequest(id));
    for (const id of ['s-void', 's-rej', 's-open']) await same((s) => s.deleteSnapshot(p, id));
    await same((s) => s.deleteBlob('b6'));
    await same((s) => s.deleteBlob('none'));
    await sameRows(d, 'promotionRequests', (r) => String(r.id));
    await sameRows(d, 'snapshots', (r) => `${r.projectId}/${r.id}`);
    await sameRows(d, 'blobs', (r) => String(r.id));
  });
});

describe('PG-45: the retention commit on PostgreSQL is serialised with every writer it re-checks', () => {
  const MAX = Number.MAX_SAFE_INTEGER;

  it('waits for a freeze under way and answers it, then holds pointer moves until it ends', async () => {
    const d = dbs();
    await project(d, 'c1');
    const store = createPgRetentionStore(d.pgx);
    const mark = await store.lastSnapshotRow();

    // Another process freezes a snapshot in a transaction still open, stamped long ago.
    const freezer = await d.pgx.pool.connect();
    try {
      await freezer.query('BEGIN');
      await freezer.query(`INSERT INTO blobs (id, json) VALUES ('c1-blob', '{}')`);
      await freezer.query(
        `INSERT INTO snapshots (project_id, id, tree, kind, created_by, created_at)
         VALUES ('c1', 'c1-frozen', '{"prompts":{"i":"c1-blob"}}', 'request', 'u', 1)`,
      );
      let pointerMoved = false;
      const commit = d.pgx.atomically(async () => {
        const found = await store.treesAfter(mark, MAX, MAX);
        // Locked now: a pointer move from another connection waits for this transaction.
        const move = d.pgx.pool
          .query(`UPDATE environments SET snapshot_id = 'c1-frozen' WHERE id = 'c1-prod'`)
          .then(() => (pointerMoved = true));
        await expect.poll(() => lockWaiters(d.pgx), { timeout: 10_000 }).toBe(1);
        expect(pointerMoved).toBe(false);
        return { found, move };
      });
      await expect.poll(() => lockWaiters(d.pgx), { timeout: 10_000 }).toBe(1);
      await freezer.query('COMMIT');
      const { found, move } = await commit;
      expect(found.map((r) => r.id)).toContain('c1-frozen');
      await move;
      expect(pointerMoved).toBe(true);
    } finally {
      freezer.release();
    }
  });
});

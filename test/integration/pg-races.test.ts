import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import type { Principal } from '#server/domain/accounts.ts';
import { createAccess } from '#server/domain/access.ts';
import { createAccounts } from '#server/domain/accounts.ts';
import { createApprovals } from '#server/domain/approvals.ts';
import { createAudiences } from '#server/domain/audiences.ts';
import { createProjectEvents } from '#server/domain/events.ts';
import { LIMITS } from '#server/domain/limits.ts';
import { createRuntimeKeys } from '#server/domain/runtime-keys.ts';
import { createSealer } from '#server/domain/sealer.ts';
import { createSecrets } from '#server/domain/secrets.ts';
import { createShares } from '#server/domain/shares.ts';
import { WEBHOOKS_PER_PROJECT, createWebhooks } from '#server/domain/webhooks.ts';
import { createSnapshots } from '#server/domain/snapshots.ts';
import type { Postgres } from '#server/store/pg/db.ts';
import { createPgAccountStore } from '#server/store/pg/accounts.ts';
import { createPgAudienceStore } from '#server/store/pg/audiences.ts';
import { createPgAuditStore } from '#server/store/pg/audit.ts';
import { createPgEventStore } from '#server/store/pg/events.ts';
import { createPgGateStore } from '#server/store/pg/gates.ts';
import { createPgHotfixStore } from '#server/store/pg/hotfixes.ts';
import { createPgInvitationStore } from '#server/store/pg/invitations.ts';
import { createPgLocalStore } from '#server/store/pg/local.ts';
import { createPgMemberStore } from '#server/store/pg/members.ts';
import { createPgProjectStore } from '#server/store/pg/projects.ts';
import { createPgReleaseStore } from '#server/store/pg/releases.ts';
import { createPgShareStore } from '#server/store/pg/shares.ts';
import { createPgWebhookStore } from '#server/store/pg/webhooks.ts';
import { createPgScheduleStore } from '#server/store/pg/schedule.ts';
import { createPgSnapshotStore } from '#server/store/pg/snapshots.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { lockWaiters, postgresPerFile } from '../helpers/pg-per-file.ts';
import { T0, attempt, pgStores, request, seedProject } from '../helpers/dialects.ts';

/**
 * The domain's read-then-write checks (PG-130 …) when several processes (each its own pool, its
 * own domain over the PostgreSQL stores, as start.ts builds them) act at once.
 */

const cleanup = cleanupAfterEach();
const pg = postgresPerFile(cleanup);
const processes = (n: number) => Promise.all(Array.from({ length: n }, () => pg.otherProcess()));

/** Each call `f(i)` on process `i % procs.length`, all at once. */
const race = <P, T>(procs: P[], n: number, f: (p: P, i: number) => Promise<T>) =>
  Promise.all(Array.from({ length: n }, (_, i) => attempt(f(procs[i % procs.length]!, i))));

const wins = (results: unknown[]) =>
  results.filter((r) => !(r && typeof r === 'object' && 'error' in r));
const errors = (results: unknown[]) =>
  results
    .filter((r) => r && typeof r === 'object' && 'error' in r)
    .map((r) => (r as { error: string }).error);

const USER = {
  id: 'u1',
  email: 'a@example.com',
  name: 'A',
  passwordHash: 'x',
  isInstanceAdmin: true,
  createdAt: T0,
};
const by = { user: { id: 'u1', name: 'A', email: 'a@example.com' } } as unknown as Principal;

function audiencesOf(pgx: Postgres) {
  return createAudiences({
    store: createPgAudienceStore(pgx),
    projects: createPgProjectStore(pgx),
    snapshots: createSnapshots(createPgSnapshotStore(pgx)),
    contents: () => Promise.resolve([]),
    emit: createProjectEvents(createPgEventStore(pgx)).emit,
    atomically: pgx.atomically,
  });
}
const body = (name: string) => ({ name, description: '', rules: [] });

describe('PG-130: audiences per environment', () => {
  it('of creates racing for the last place from three processes, exactly one gets it', async () => {
    await seedProject(pgStores(pg.pgx), 'p1');
    const store = createPgAudienceStore(pg.pgx);
    const max = LIMITS.MAX_AUDIENCES_PER_ENVIRONMENT;
    for (let i = await store.count('p1-prod'); i < max - 1; i++)
      await store.put({
        id: `a${i}`,
        environmentId: 'p1-prod',
        name: `n${i}`,
        nameKey: `n${i}`,
        description: '',
        rules: [],
        updatedBy: 'u1',
        updatedAt: T0,
      });
    const procs = (await processes(3)).map(audiencesOf);
    const results = await race(procs, 6, (a, i) => a.create(by, 'p1-prod', body(`last${i}`)));
    expect(wins(results)).toHaveLength(1);
    expect(errors(results)).toEqual(Array(5).fill('limit_reached'));
    expect(await store.count('p1-prod')).toBe(max);
  });
});

describe('PG-131: an audience name is taken once', () => {
  it('of creates of one name from three processes, one wins and the others get audience_exists', async () => {
    await seedProject(pgStores(pg.pgx), 'p1');
    const procs = (await processes(3)).map(audiencesOf);
    const results = await race(procs, 6, (a, i) =>
      a.create(by, 'p1-prod', body(i % 2 ? 'Gamma' : 'gamma')),
    );
    expect(wins(results)).toHaveLength(1);
    expect(errors(results)).toEqual(Array(5).fill('audience_exists'));
    const names = (await createPgAudienceStore(pg.pgx).list('p1-prod')).map((a) => a.nameKey);
    expect(names.filter((n) => n === 'gamma')).toHaveLength(1);
  });
});

describe('PG-132: API tokens per person', () => {
  it('of creates racing for the last token from three processes, exactly one gets it', async () => {
    const store = createPgAccountStore(pg.pgx);
    await store.insertUser(USER);
    const max = LIMITS.MAX_API_TOKENS_PER_USER;
    for (let i = 0; i < max - 1; i++)
      await store.insertToken({
        id: `t${i}`,
        userId: 'u1',
        name: `t${i}`,
        tokenHash: `h${i}`,
        createdAt: T0,
        expiresAt: null,
      });
    const procs = (await processes(3)).map((o) =>
      createAccounts(createPgAccountStore(o), { sessionTtlMs: 60_000, atomically: o.atomically }),
    );
    const results = await race(procs, 6, (a, i) => a.createToken('u1', `last${i}`));
    expect(wins(results)).toHaveLength(1);
    expect(errors(results)).toEqual(Array(5).fill('limit_reached'));
    expect(await store.countTokens('u1')).toBe(max);
  });
});

/** A dependency the calls under test never reach: any use of it fails the test. */
const notCalled = (what: string) =>
  new Proxy(
    {},
    {
      get: (_, k) => {
        throw new Error(`${what}.${String(k)} called`);
      },
    },
  );

/** Share links of a stage whose pointer is empty: a feedback post's item name reads no content. */
function sharesOf(
  pgx: Postgres,
  limits = { maxShareLinksPerEnvironment: 2, feedbackPerLinkPerMinute: 3 },
) {
  return createShares({
    store: { ...createPgShareStore(pgx), ...createPgAuditStore(pgx) },
    projects: createPgProjectStore(pgx),
    releases: createPgReleaseStore(pgx),
    snapshots: createSnapshots(createPgSnapshotStore(pgx)),
    local: notCalled('local') as Parameters<typeof createShares>[0]['local'],
    limits,
    names: () => Promise.resolve({}),
    emit: createProjectEvents(createPgEventStore(pgx)).emit,
    atomically: pgx.atomically,
  });
}

async function seedUserAndProject() {
  await createPgAccountStore(pg.pgx).insertUser(USER);
  await seedProject(pgStores(pg.pgx), 'p1');
}

describe('PG-134: share links per environment and replies per post', () => {
  it('of six link creates from three processes under a limit of two, exactly two get a link', async () => {
    await seedUserAndProject();
    const procs = (await processes(3)).map((o) => sharesOf(o));
    const results = await race(procs, 6, (s, i) =>
      s.create(by, 'p1-prod', { label: `l${i}`, expiresInDays: 7, allowFeedback: true }),
    );
    expect(wins(results)).toHaveLength(2);
    expect(errors(results)).toEqual(Array(4).fill('limit_reached'));
    expect(await createPgShareStore(pg.pgx).activeShareLinkCount('p1-prod', Date.now())).toBe(2);
  });

  it('of replies racing for the last place under a post, exactly one is kept', async () => {
    await seedUserAndProject();
    const link = await sharesOf(pg.pgx).create(by, 'p1-prod', {
      label: 'l',
      expiresInDays: 7,
      allowFeedback: true,
    });
    const post = await sharesOf(pg.pgx).addFeedback(link.token, {
      section: 'agents',
      itemId: 'f1',
      author: 'S',
      text: 'hi',
    });
    const store = createPgShareStore(pg.pgx);
    const max = LIMITS.MAX_REPLIES_PER_FEEDBACK;
    for (let i = 0; i < max - 1; i++)
      await store.insertReply({
        id: `r${i}`,
        feedbackId: post.id,
        createdBy: 'u1',
        authorName: 'A',
        text: `r${i}`,
        createdAt: T0,
      });
    const procs = (await processes(3)).map((o) => sharesOf(o));
    const results = await race(procs, 6, (s, i) => s.reply(by, post.id, `last${i}`));
    expect(wins(results)).toHaveLength(1);
    expect(errors(results)).toEqual(Array(5).fill('limit_reached'));
    expect(await store.replyCount(post.id)).toBe(max);
  });
});

describe('PG-135: the feedback rate of a link', () => {
  it('of eight posts at once through one link from three processes, exactly the rate (3) are kept', async () => {
    await seedUserAndProject();
    const link = await sharesOf(pg.pgx).create(by, 'p1-prod', {
      label: 'l',
      expiresInDays: 7,
      allowFeedback: true,
    });
    const procs = (await processes(3)).map((o) => sharesOf(o));
    const results = await race(procs, 8, (s, i) =>
      s.addFeedback(link.token, { section: 'agents', itemId: 'f1', author: 'S', text: `p${i}` }),
    );
    expect(wins(results)).toHaveLength(3);
    expect(errors(results)).toEqual(Array(5).fill('rate_limited'));
    expect(await createPgShareStore(pg.pgx).feedbackCountOfLink('p1-prod', link.id)).toBe(3);
  });
});

describe('PG-133: open invitations into a project', () => {
  it('of invitations racing for the last place from three processes, exactly one is made', async () => {
    await seedUserAndProject();
    const store = createPgInvitationStore(pg.pgx);
    const max = LIMITS.MAX_PENDING_INVITATIONS_PER_PROJECT;
    const now = Date.now();
    for (let i = 0; i < max - 1; i++)
      await store.insertInvitation({
        id: `i${i}`,
        tokenHash: `h${i}`,
        email: `p${i}@example.com`,
        name: `P${i}`,
        grant: { projectId: 'p1', roles: {} },
        createdBy: 'u1',
        // Older than a day: the daily rate (as high as the bound) leaves room for one more.
        createdAt: now - 2 * 24 * 3600_000,
        expiresAt: now + 3600_000,
        usedAt: null,
      });
    const procs = (await processes(3)).map((o) =>
      createAccess({
        store: {
          ...createPgMemberStore(o),
          ...createPgInvitationStore(o),
          ...createPgAuditStore(o),
        },
        accounts: createPgAccountStore(o),
        projects: createPgProjectStore(o),
        hotfixes: createPgHotfixStore(o),
        onRightsChanged: () => {},
        emit: createProjectEvents(createPgEventStore(o)).emit,
        atomically: o.atomically,
      }),
    );
    const results = await race(procs, 6, (a, i) =>
      a.invite(by, {
        email: `new${i}@example.com`,
        name: `N${i}`,
        projectId: 'p1',
        roles: {},
        expiresInDays: 7,
      }),
    );
    expect(wins(results)).toHaveLength(1);
    expect(errors(results)).toEqual(Array(5).fill('limit_reached'));
    expect(await store.pendingInto('p1', Date.now(), 1000)).toHaveLength(max);
  });
});

describe('PG-136: runtime keys and secrets per environment', () => {
  it('of runtime keys racing for the last place from three processes, exactly one is made', async () => {
    await seedUserAndProject();
    const store = createPgLocalStore(pg.pgx);
    const max = LIMITS.MAX_RUNTIME_KEYS_PER_ENVIRONMENT;
    for (let i = 0; i < max - 1; i++)
      await store.insertRuntimeKey({
        id: `k${i}`,
        environmentId: 'p1-prod',
        name: `k${i}`,
        keyHash: `h${i}`,
        createdBy: 'u1',
        createdAt: T0,
      });
    const procs = (await processes(3)).map((o) =>
      createRuntimeKeys({
        projects: createPgProjectStore(o),
        store: createPgLocalStore(o),
        atomically: o.atomically,
      }),
    );
    const results = await race(procs, 6, (k, i) => k.createRuntimeKey(by, 'p1-prod', `last${i}`));
    expect(wins(results)).toHaveLength(1);
    expect(errors(results)).toEqual(Array(5).fill('limit_reached'));
    expect(await store.runtimeKeyCount('p1-prod')).toBe(max);
  });

  it('of new secret names racing for the last place from three processes, exactly one is set', async () => {
    await seedUserAndProject();
    const procs = (await processes(3)).map((o) =>
      createSecrets({
        projects: createPgProjectStore(o),
        store: createPgLocalStore(o),
        composition: notCalled('composition') as Parameters<typeof createSecrets>[0]['composition'],
        sealer: createSealer(Buffer.alloc(32, 7)),
        limits: { maxSecretsPerEnvironment: 2 },
        atomically: o.atomically,
      }),
    );
    await procs[0]!.setSecret(by, 'p1-prod', 'FIRST', 'v');
    const results = await race(procs, 6, (s, i) => s.setSecret(by, 'p1-prod', `NAME_${i}`, 'v'));
    expect(wins(results)).toHaveLength(1);
    expect(errors(results)).toEqual(Array(5).fill('limit_reached'));
    expect(await createPgLocalStore(pg.pgx).secretCount('p1-prod')).toBe(2);
  });
});

describe('PG-137: a new request replaces the open one for its move', () => {
  it('of requests for one move made at once from four processes, one stays open', async () => {
    await seedUserAndProject();
    const procs = await processes(4);
    // Each goes on after its look once all four looked, or once the others wait for a lock:
    // without the lock all four would look before any inserts.
    let looked = 0;
    const othersCaughtUp = async () => {
      const deadline = Date.now() + 5000;
      while (looked < 4 && (await lockWaiters(pg.pgx)) < 4 - looked) {
        if (Date.now() > deadline) throw new Error('the others neither looked nor waited');
        await new Promise((r) => setImmediate(r));
      }
    };
    // The steps of the domain's request (approvals.ts): void the open ones of this move, insert.
    await Promise.all(
      procs.map((o, i) =>
        o.atomically(async () => {
          const gates = createPgGateStore(o);
          const open = await gates.openRequests('p1');
          looked++;
          await othersCaughtUp();
          for (const r of open)
            if (r.sourceEnvironmentId === 'p1-dev' && r.targetEnvironmentId === 'p1-staging')
              await gates.closeRequest(r.id, 'voided', 'replaced by a newer request', T0 + i);
          await gates.insertRequest(request(`r${i}`, 'p1', 'snapA', { createdAt: T0 + i }));
        }),
      ),
    );
    expect(await createPgGateStore(pg.pgx).openRequests('p1')).toHaveLength(1);
  });
});

describe('PG-138: an email is taken once', () => {
  it('of accounts made at once with one email from three processes, one is made and the others get email_taken', async () => {
    await seedUserAndProject();
    const procs = (await processes(3)).map((o) =>
      createAccess({
        store: {
          ...createPgMemberStore(o),
          ...createPgInvitationStore(o),
          ...createPgAuditStore(o),
        },
        accounts: createPgAccountStore(o),
        projects: createPgProjectStore(o),
        hotfixes: createPgHotfixStore(o),
        onRightsChanged: () => {},
        emit: createProjectEvents(createPgEventStore(o)).emit,
        atomically: o.atomically,
      }),
    );
    const results = await race(procs, 3, (a, i) =>
      a.createUser(by, {
        email: 'same@example.com',
        name: `S${i}`,
        password: 'a long enough passphrase 42',
      }),
    );
    expect(wins(results)).toHaveLength(1);
    expect(errors(results)).toEqual(Array(2).fill('email_taken'));
  });
});

describe('PG-136: webhooks per project', () => {
  it('of endpoints racing for the last place from three processes, exactly one is made', async () => {
    await seedUserAndProject();
    const webhooksOf = (o: Postgres) =>
      createWebhooks({
        afterCommit: (_key, fn) => fn(),
        store: createPgWebhookStore(o),
        projects: createPgProjectStore(o),
        events: createProjectEvents(createPgEventStore(o)),
        sealer: createSealer(Buffer.alloc(32, 7)),
        requireProjectAdmin: () => Promise.resolve(),
        userName: () => Promise.resolve(null),
        release: () => Promise.resolve(undefined),
        requiredChecks: () => Promise.resolve([]),
        absoluteUrl: (path) => `http://localhost${path}`,
        // Private addresses allowed: the URL check resolves no name.
        config: { webhookAllowPrivate: true, webhookTimeoutMs: 1000, webhookRetryScheduleMs: [] },
        audit: (e, now) => createPgAuditStore(o).audit(e, now),
        log: () => {},
        atomically: o.atomically,
      });
    const first = webhooksOf(pg.pgx);
    for (let i = 0; i < WEBHOOKS_PER_PROJECT - 1; i++)
      await first.create(by, 'p1', { url: `http://127.0.0.1/${i}`, events: ['release'] });
    const procs = (await processes(3)).map(webhooksOf);
    const results = await race(procs, 6, (w, i) =>
      w.create(by, 'p1', { url: `http://127.0.0.1/last${i}`, events: ['release'] }),
    );
    expect(wins(results)).toHaveLength(1);
    expect(errors(results)).toEqual(Array(5).fill('too_many_webhooks'));
    expect(await createPgWebhookStore(pg.pgx).count('p1')).toBe(WEBHOOKS_PER_PROJECT);
  });
});

describe('PG-136: check names per snapshot', () => {
  it('of new check names racing for the last place from three processes, exactly one is kept', async () => {
    await seedUserAndProject();
    await createPgSnapshotStore(pg.pgx).putSnapshot(
      {
        projectId: 'p1',
        id: 'snap1',
        tree: '{"content":{}}',
        kind: 'sync',
        parentId: null,
        sourceDraftId: 'p1-d1',
        message: null,
        createdBy: 'u1',
        createdAt: T0,
      },
      [],
    );
    const gates = createPgGateStore(pg.pgx);
    const max = LIMITS.MAX_CHECKS_PER_SNAPSHOT;
    for (let i = 0; i < max - 1; i++)
      await gates.putCheck({
        environmentId: 'p1-prod',
        snapshotId: 'snap1',
        name: `c${i}`,
        state: 'success',
        url: null,
        summary: null,
        reportedBy: 'u1',
        reportedAt: T0,
      });
    // A stored snapshot: the report reads no draft, candidate or hotfix.
    const procs = (await processes(3)).map((o) =>
      createApprovals({
        store: { ...createPgGateStore(o), ...createPgAuditStore(o) },
        projects: createPgProjectStore(o),
        snapshots: createSnapshots(createPgSnapshotStore(o)),
        drafts: notCalled('drafts') as Parameters<typeof createApprovals>[0]['drafts'],
        hotfixDraft: () => Promise.reject(new Error('hotfixDraft called')),
        composition: notCalled('composition') as Parameters<
          typeof createApprovals
        >[0]['composition'],
        emit: createProjectEvents(createPgEventStore(o)).emit,
        atomically: o.atomically,
      }),
    );
    const results = await race(procs, 6, (a, i) =>
      a.reportCheck(by, 'p1-prod', { snapshotId: 'snap1', name: `last${i}`, state: 'success' }),
    );
    expect(wins(results)).toHaveLength(1);
    expect(errors(results)).toEqual(Array(5).fill('limit_reached'));
    expect(await gates.checks('p1-prod', 'snap1')).toHaveLength(max);
  });
});

/**
 * `n` transactions, one per process, each counting then inserting when under `max` (the domain's
 * steps): each goes on after its count once all counted or the others wait for a lock, so without
 * the count's lock all would count before any inserts. Answers how many inserted.
 */
async function countThenInsert(
  n: number,
  max: number,
  count: (o: Postgres) => Promise<number>,
  insert: (o: Postgres, i: number) => Promise<void>,
): Promise<number> {
  const procs = await processes(n);
  let counted = 0;
  let inserted = 0;
  const othersCaughtUp = async () => {
    const deadline = Date.now() + 5000;
    while (counted < n && (await lockWaiters(pg.pgx)) < n - counted) {
      if (Date.now() > deadline) throw new Error('the others neither counted nor waited');
      await new Promise((r) => setImmediate(r));
    }
  };
  await Promise.all(
    procs.map((o, i) =>
      o.atomically(async () => {
        const now = await count(o);
        counted++;
        await othersCaughtUp();
        if (now >= max) return;
        await insert(o, i);
        inserted++;
      }),
    ),
  );
  return inserted;
}

describe('PG-187: the limits counted outside PG-130 before', () => {
  it('PG-187 scheduled moves per environment: of counts racing for the last place from four processes, exactly one inserts', async () => {
    await seedUserAndProject();
    const scheduled = (id: string) => ({
      id,
      projectId: 'p1',
      environmentId: 'p1-staging',
      kind: 'sync' as const,
      snapshotId: 'snapA',
      expectedTargetSnapshotId: null,
      at: T0 + 60_000,
      createdBy: 'u1',
      message: null,
      confirmMissingSecrets: false,
      confirmUndoHotfix: false,
      state: 'pending' as const,
      errorId: null,
      errorMessage: null,
      releaseSeq: null,
      createdAt: T0,
      finishedAt: null,
    });
    await createPgScheduleStore(pg.pgx).insert(scheduled('s0'));
    const inserted = await countThenInsert(
      4,
      2,
      (o) => createPgScheduleStore(o).pendingCount('p1-staging'),
      (o, i) => createPgScheduleStore(o).insert(scheduled(`s${i + 1}`)),
    );
    expect(inserted).toBe(1);
    expect(await createPgScheduleStore(pg.pgx).pendingCount('p1-staging')).toBe(2);
  });

  it('PG-187 pending deliveries per webhook: of counts racing for the last place from four processes, exactly one queues', async () => {
    await seedUserAndProject();
    const hooks = createPgWebhookStore(pg.pgx);
    await hooks.insert({
      id: 'wh1',
      projectId: 'p1',
      url: 'http://127.0.0.1/hook',
      description: '',
      events: ['*'],
      enabled: true,
      disabledReason: null,
      sealedSecret: Buffer.from('sealed'),
      previousSealedSecret: null,
      previousSecretValidUntil: null,
      createdBy: 'u1',
      createdAt: T0,
    } as Parameters<typeof hooks.insert>[0]);
    const delivery = (id: string) => ({
      id,
      webhookId: 'wh1',
      projectId: 'p1',
      messageId: `msg_${id}`,
      event: 'release',
      payload: '{}',
      state: 'pending' as const,
      attempts: [],
      nextAttemptAt: T0,
      leaseUntil: null,
      createdAt: T0,
    });
    await hooks.insertDelivery(delivery('d0') as Parameters<typeof hooks.insertDelivery>[0]);
    const inserted = await countThenInsert(
      4,
      2,
      (o) => createPgWebhookStore(o).pendingCount('wh1'),
      (o, i) =>
        createPgWebhookStore(o).insertDelivery(
          delivery(`d${i + 1}`) as Parameters<typeof hooks.insertDelivery>[0],
        ),
    );
    expect(inserted).toBe(1);
    expect(await hooks.pendingCount('wh1')).toBe(2);
  });

  it('PG-187 approval requests per environment and hour: of counts racing for the last place from four processes, exactly one requests', async () => {
    await seedUserAndProject();
    await createPgGateStore(pg.pgx).insertRequest(request('r0', 'p1', 'snapA'));
    const inserted = await countThenInsert(
      4,
      2,
      async (o) => (await createPgGateStore(o).requestTimesFrom('p1-dev', T0 - 1)).length,
      (o, i) =>
        createPgGateStore(o).insertRequest(
          request(`r${i + 1}`, 'p1', 'snapA', { createdAt: T0 + i, state: 'voided' }),
        ),
    );
    expect(inserted).toBe(1);
    expect(await createPgGateStore(pg.pgx).requestTimesFrom('p1-dev', T0 - 1)).toHaveLength(2);
  });

  it('PG-187 hotfixes started per environment and day: of counts racing for the last place from four processes, exactly one starts', async () => {
    await seedUserAndProject();
    const started = (o: Postgres) => createPgHotfixStore(o).startedSince('p1-prod', T0 - 1);
    const draft = (i: number) => ({
      id: `hf${i}`,
      projectId: 'p1',
      environmentId: 'p1-prod',
      kind: 'hotfix',
      createdAt: T0 + i,
      createdBy: 'u1',
      baseSnapshotId: null,
      closedAt: T0 + i,
      sections: null,
    });
    type DraftArg = Parameters<ReturnType<typeof createPgHotfixStore>['insertDraft']>[0];
    await createPgHotfixStore(pg.pgx).insertDraft(draft(0) as DraftArg, new Uint8Array([1]));
    const inserted = await countThenInsert(
      4,
      2,
      async (o) => (await started(o)).length,
      (o, i) => createPgHotfixStore(o).insertDraft(draft(i + 1) as DraftArg, new Uint8Array([1])),
    );
    expect(inserted).toBe(1);
    expect(await started(pg.pgx)).toHaveLength(2);
  });
});

describe('PG-189: a decision on a request another process closes meanwhile', () => {
  it('PG-189 a reject racing a Publish that closes the request done answers request_closed and writes no approval and no request.rejected audit', async () => {
    await seedUserAndProject();
    await createPgGateStore(pg.pgx).insertRequest(request('r1', 'p1', 'snapA'));
    const [a, b] = (await processes(2)) as [Postgres, Postgres];
    const approvals = createApprovals({
      store: { ...createPgGateStore(a), ...createPgAuditStore(a) },
      projects: createPgProjectStore(a),
      snapshots: createSnapshots(createPgSnapshotStore(a)),
      drafts: notCalled('drafts') as Parameters<typeof createApprovals>[0]['drafts'],
      hotfixDraft: () => Promise.reject(new Error('hotfixDraft called')),
      composition: { candidateId: () => Promise.resolve('snapA') } as unknown as Parameters<
        typeof createApprovals
      >[0]['composition'],
      emit: createProjectEvents(createPgEventStore(a)).emit,
      atomically: a.atomically,
    });
    // The Publish on B: under the ledger lock it closes the request done, and commits only once
    // the reject waits for a lock.
    let locked!: () => void;
    const holding = new Promise<void>((resolve) => (locked = resolve));
    let commit!: () => void;
    const committing = new Promise<void>((resolve) => (commit = resolve));
    const publish = b.atomically(async () => {
      await createPgGateStore(b).openRequests('p1');
      await createPgGateStore(b).closeRequest('r1', 'done', 'published', T0 + 1);
      locked();
      await committing;
    });
    await holding;
    const decision = attempt(approvals.decide(by, 'r1', 'reject', 'not this one'));
    await pg.waitForLockWaiters(1);
    commit();
    await publish;
    expect(await decision).toMatchObject({ error: 'request_closed' });
    expect(await createPgGateStore(pg.pgx).approvals(['r1'])).toEqual([]);
    expect((await createPgGateStore(pg.pgx).request('r1'))!.state).toBe('done');
    const rejected = await pg.pgx
      .db()
      .execute<{ n: string }>(
        sql`SELECT count(*) AS n FROM audit_events WHERE kind = 'request.rejected'`,
      );
    expect(Number(rejected.rows[0]!.n)).toBe(0);
  });
});

import { describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { verifyChain } from '#schema/release-chain.ts';
import { sha256 } from '#server/lib/hash.ts';
import { auditRecord } from '#server/store/audit-records.ts';
import { createPgAuditStore } from '#server/store/pg/audit.ts';
import { createPgEventStore } from '#server/store/pg/events.ts';
import { createPgGateStore } from '#server/store/pg/gates.ts';
import { createPgHotfixStore } from '#server/store/pg/hotfixes.ts';
import { createPgProjectStore } from '#server/store/pg/projects.ts';
import { createPgReleaseStore } from '#server/store/pg/releases.ts';
import { createPgSnapshotStore } from '#server/store/pg/snapshots.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { opened, postgresPerFile } from '../helpers/pg-per-file.ts';
import { T0, attempt, draft, move, pgStores, request, seedProject } from '../helpers/dialects.ts';

/**
 * The read-then-write spots of the PostgreSQL stores (PG-22 … PG-29) when several processes (each
 * its own pool) race: compare-and-swap, hash chains, "insert if none", voiding, the event log.
 */

const cleanup = cleanupAfterEach();
const pg = postgresPerFile(cleanup);
const otherProcess = () => pg.otherProcess();
const waitForLockWaiters = (n: number) => pg.waitForLockWaiters(n);

describe('PG-22: overlapping blob writers', () => {
  it('writers of overlapping blobs in opposite orders both commit (no deadlock)', async () => {
    const blobs = Array.from({ length: 400 }, (_, i) => ({ id: `b${i}`, json: `${i}` }));
    const others = await Promise.all([otherProcess(), otherProcess()]);
    await Promise.all(
      others.map((o, i) =>
        o.atomically(async () => {
          const store = createPgSnapshotStore(o);
          await store.putBlobs(i === 0 ? blobs : [...blobs].reverse());
        }),
      ),
    );
    expect((await createPgSnapshotStore(pg.pgx).knownBlobIds(blobs.map((b) => b.id))).size).toBe(
      400,
    );
  });
});

describe('PG-23: one open hotfix per environment', () => {
  it('of hotfixes started at once in one environment from four processes, exactly one opens', async () => {
    const stores = pgStores(pg.pgx);
    await seedProject(stores, 'p1');
    const others = await Promise.all([1, 2, 3, 4].map(() => otherProcess()));
    const results = await Promise.all(
      others.map((o, i) =>
        attempt(
          createPgHotfixStore(o).insertDraft(
            draft('p1', `h${i}`, 'p1-prod', 'hotfix', T0 + i),
            new Uint8Array([i]),
          ),
        ),
      ),
    );
    expect(results.filter((r) => r === undefined)).toHaveLength(1);
    expect(results.filter((r) => (r as { error?: string })?.error === 'hotfix_open')).toHaveLength(
      3,
    );
    const open = await pg.pgx.pool.query(
      `select count(*)::int as n from drafts where kind = 'hotfix' and closed_at is null`,
    );
    expect(open.rows[0].n).toBe(1);
  });
});

describe('PG-26: voiding and closing at once', () => {
  it('a request closed while a void is under way stays closed and is not answered as voided', async () => {
    const stores = pgStores(pg.pgx);
    await seedProject(stores, 'p1');
    for (const id of ['r1', 'r2']) await stores.gates.insertRequest(request(id, 'p1', 'snapA'));
    const [a, b] = [await otherProcess(), await otherProcess()];
    const go = opened<void>();
    const closed = opened<void>();
    cleanup.push(() => go.open());
    // r1 is approved and done in a transaction that has not committed yet.
    const closing = a.atomically(async () => {
      await createPgGateStore(a).closeRequest('r1', 'done', 'moved', T0 + 1);
      closed.open();
      await go.promise;
    });
    await closed.promise;
    // The void still reads r1 as open, then waits for its row.
    const voiding = createPgGateStore(b).voidRequestsFrom('p1-dev', null, T0 + 2);
    await waitForLockWaiters(1);
    go.open();
    await closing;
    expect(await voiding).toEqual(['r2']);
    expect((await stores.gates.request('r1'))?.state).toBe('done');
    expect((await stores.gates.request('r2'))?.state).toBe('voided');
  });
});

describe('PG-27: compare-and-swap holds when processes race', () => {
  it('of the same move sent by four processes at once, exactly one wins each round', async () => {
    const stores = pgStores(pg.pgx);
    await seedProject(stores, 'p1');
    const racers = await Promise.all(
      [1, 2, 3, 4].map(async () => createPgReleaseStore(await otherProcess())),
    );
    let current: string | null = null;
    for (let round = 0; round < 15; round++) {
      const results = await Promise.all(
        racers.map((r, i) =>
          attempt(
            r.commitMove(
              move('p1', {
                environmentId: 'p1-staging',
                toSnapshotId: `s${round}-${i}`,
                expectedFrom: current,
              }),
              T0 + round,
            ),
          ),
        ),
      );
      const winners = results.filter((r) => (r as { error?: string }).error === undefined);
      expect(winners).toHaveLength(1);
      expect(
        results.filter((r) => (r as { error?: string }).error === 'target_moved'),
      ).toHaveLength(3);
      current = (winners[0] as { toSnapshotId: string }).toSnapshotId;
    }
    const all = await stores.releases.projectReleases('p1');
    expect(all).toHaveLength(15);
    expect(verifyChain(all, sha256)).toMatchObject({ ok: true });
    expect((await stores.projects.getEnvironment('p1-staging'))?.environment.snapshotId).toBe(
      current,
    );
  });

  it('of one flow-rules change sent by four processes at once, exactly one wins', async () => {
    const stores = pgStores(pg.pgx);
    await seedProject(stores, 'p1');
    const racers = await Promise.all(
      [1, 2, 3, 4].map(async () => createPgProjectStore(await otherProcess())),
    );
    const results = await Promise.all(
      racers.map((r, i) =>
        attempt(
          r.changeFlowRules(
            'p1',
            '{}',
            `{"s${i}":{"flow":"down"}}`,
            {
              sections: [],
              added: [
                {
                  row: draft('p1', `d${i}`, 'p1-staging', 'section', T0),
                  state: new Uint8Array([1]),
                },
              ],
              closed: [],
            },
            T0,
          ),
        ),
      ),
    );
    expect(results.filter((r) => r === undefined)).toHaveLength(1);
    // The losers' drafts rolled back with their swap.
    expect((await stores.projects.getProject('p1'))?.drafts).toHaveLength(2);
  });
});

describe('PG-28: hash chains stay whole when processes append at once', () => {
  it('release records of two projects and audit events from four processes: every chain verifies', async () => {
    const stores = pgStores(pg.pgx);
    await seedProject(stores, 'p1');
    await seedProject(stores, 'p2');
    const racers = await Promise.all([1, 2, 3, 4].map(async () => pgStores(await otherProcess())));
    await Promise.all(
      racers.map(async (r, i) => {
        for (let k = 0; k < 10; k++) {
          const pid = (i + k) % 2 ? 'p1' : 'p2';
          await r.releases.recordReplication(
            {
              projectId: pid,
              environmentId: `${pid}-staging`,
              kind: 'replicate',
              toSnapshotId: `s${i}-${k}`,
              fromSnapshotId: null,
              sourceEnvironmentId: `${pid}-dev`,
              actorId: `u${i}`,
              message: null,
              detail: { section: `x${k}` },
            },
            T0 + k,
          );
          await r.audit.audit(
            { projectId: pid, environmentId: null, kind: 'k', actorId: `u${i}`, subject: { i, k } },
            T0 + k,
          );
        }
      }),
    );
    for (const pid of ['p1', 'p2'])
      expect(verifyChain(await stores.releases.projectReleases(pid), sha256)).toMatchObject({
        ok: true,
        count: 20,
      });
    const audit = [
      ...(await stores.audit.auditOfProject('p1', 100)),
      ...(await stores.audit.auditOfProject('p2', 100)),
    ].sort((a, b) => a.seq - b.seq);
    expect(audit).toHaveLength(40);
    let prev: string | undefined;
    for (const e of audit) {
      const again = auditRecord(
        {
          projectId: e.projectId,
          environmentId: e.environmentId,
          kind: e.kind,
          actorId: e.actorId,
          subject: JSON.parse(e.subject),
        },
        prev,
        e.createdAt,
      );
      expect(e.hash).toBe(again.hash);
      prev = e.hash;
    }
  });
});

describe('PG-28: one ledger lock, so appends in any order never deadlock', () => {
  it('a transaction that audits then emits and one that emits then audits both commit', async () => {
    const stores = pgStores(pg.pgx);
    await seedProject(stores, 'p1');
    const [a, b] = [await otherProcess(), await otherProcess()];
    const go = opened<void>();
    const audited = opened<void>();
    cleanup.push(() => go.open());
    const first = a.atomically(async () => {
      await createPgAuditStore(a).audit(auditEntry('gate.changed'), T0);
      audited.open();
      await go.promise;
      await createPgEventStore(a).insert(event('p1', 1));
    });
    await audited.promise;
    const second = b.atomically(async () => {
      await createPgEventStore(b).insert(event('p1', 2));
      await createPgAuditStore(b).audit(auditEntry('request.created'), T0 + 1);
    });
    // The second waits at its first append: it cannot hold the event log while the first holds
    // the audit chain, each then waiting for the other (a deadlock PostgreSQL would break by
    // failing one of them).
    await waitForLockWaiters(1);
    go.open();
    await Promise.all([first, second]);
    expect((await stores.audit.auditOfProject('p1')).map((e) => e.kind)).toEqual([
      'request.created',
      'gate.changed',
    ]);
    expect((await stores.events.after('p1', 0, 10)).map((e) => e.subject)).toEqual([
      { i: 1 },
      { i: 2 },
    ]);
  });
});

describe('PG-29: a reader paging project events by seq skips none', () => {
  it('an event not yet committed holds back later ones, so no cursor passes it', async () => {
    const stores = pgStores(pg.pgx);
    await seedProject(stores, 'p1');
    await seedProject(stores, 'p2');
    const [a, b] = [await otherProcess(), await otherProcess()];
    const commit = opened<void>();
    const inserted = opened<void>();
    cleanup.push(() => commit.open());
    // A domain transaction that wrote p1's event (seq 1) and has not committed yet.
    const open = a.atomically(async () => {
      await createPgEventStore(a).insert(event('p1', 1));
      inserted.open();
      await commit.promise;
    });
    await inserted.promise;
    const later = createPgEventStore(b).insert(event('p2', 2));
    await waitForLockWaiters(1);
    // A stream starting now starts before seq 1; a reader of p1 sees nothing yet.
    expect(await stores.events.lastSeq()).toBe(0);
    expect(await stores.events.after('p1', 0, 10)).toEqual([]);
    commit.open();
    await open;
    expect((await later).seq).toBe(2);
    expect((await stores.events.after('p1', 0, 10)).map((e) => e.seq)).toEqual([1]);
    expect((await stores.events.after('p2', 0, 10)).map((e) => e.seq)).toEqual([2]);
  });

  it('a reader following a project while four processes write sees every one of its events', async () => {
    const stores = pgStores(pg.pgx);
    await seedProject(stores, 'p1');
    await seedProject(stores, 'p2');
    const writers = await Promise.all([1, 2, 3, 4].map(() => otherProcess()));
    let writing = true;
    const seen: number[] = [];
    const follow = (async () => {
      let cursor = await stores.events.lastSeq();
      for (;;) {
        const done = !writing;
        for (const e of await stores.events.after('p1', cursor, 100)) {
          seen.push(e.seq);
          cursor = e.seq;
        }
        if (done) return;
        await new Promise((r) => setImmediate(r));
      }
    })();
    await Promise.all(
      writers.map(async (w, i) => {
        for (let k = 0; k < 15; k++)
          await w.atomically(async () => {
            await createPgEventStore(w).insert(event(k % 2 ? 'p1' : 'p2', i * 100 + k));
            // Something else the transaction writes before it commits.
            await w.db().execute(sql`select 1`);
          });
      }),
    );
    writing = false;
    await follow;
    const all = (await stores.events.after('p1', 0, 1000)).map((e) => e.seq);
    expect(all).toHaveLength(28);
    expect(seen).toEqual(all);
  });
});

const event = (projectId: string, i: number) => ({
  projectId,
  environmentId: null,
  kind: 'moved',
  actorId: 'u1',
  recipientId: null,
  subject: { i },
  createdAt: T0 + i,
});

const auditEntry = (kind: string) => ({
  projectId: 'p1',
  environmentId: null,
  kind,
  actorId: 'u1',
  subject: { kind },
});

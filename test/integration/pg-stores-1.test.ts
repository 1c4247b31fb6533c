import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { AppError } from '#schema/errors.ts';
import { verifyChain } from '#schema/release-chain.ts';
import { sha256 } from '#server/lib/hash.ts';
import { openPostgres, type Postgres } from '#server/store/pg/db.ts';
import { auditRecord } from '#server/store/audit-records.ts';
import { createPgProjectStore } from '#server/store/pg/projects.ts';
import { createPgReleaseStore } from '#server/store/pg/releases.ts';
import { createPgSnapshotStore } from '#server/store/pg/snapshots.ts';
import { createPgHotfixStore } from '#server/store/pg/hotfixes.ts';
import { createPgGateStore } from '#server/store/pg/gates.ts';
import { createPgEventStore } from '#server/store/pg/events.ts';
import { createPgAuditStore } from '#server/store/pg/audit.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { migratedPostgres } from '../helpers/pg-db.ts';
import {
  T0,
  asSet,
  attempt,
  both,
  draft,
  move,
  pgStores,
  request,
  seed,
} from '../helpers/store-twins.ts';
import type { ThrowawayPostgres } from '../helpers/postgres.ts';

/**
 * The PostgreSQL twins of the project, release, snapshot, hotfix, audit, gate and event stores
 * (PG-20 … PG-29): every method called the same way on a real SQLite store and a real PostgreSQL
 * store answers the same; the read-then-write spots hold when several connections race.
 */

const cleanup = cleanupAfterEach();

// One PostgreSQL server for the file, emptied (identities restarted) before each test, so both
// databases start alike and seqs agree.
const serverCleanup: (() => unknown)[] = [];
let server: ThrowawayPostgres;
let pgx: Postgres;
beforeAll(async () => {
  ({ server, pgx } = await migratedPostgres(serverCleanup));
}, 60_000);
afterAll(async () => {
  for (const f of serverCleanup.splice(0).reverse()) await f();
});
beforeEach(async () => {
  const { rows } = await pgx.pool.query<{ t: string }>(
    `select tablename as t from pg_tables where schemaname = 'public'`,
  );
  await pgx.pool.query(
    `truncate ${rows.map((r) => `"${r.t}"`).join(', ')} restart identity cascade`,
  );
});

/** Another process's connection to the same database. */
async function otherProcess(): Promise<Postgres> {
  const other = await openPostgres(server.url, { max: 2, log: () => {} });
  cleanup.push(() => other.close());
  return other;
}

describe('PG-21: the PostgreSQL project store answers as the SQLite one', () => {
  it('inserts, lists, reads, changes flow rules (compare-and-swap) and environments', async () => {
    const out = await both(pgx, cleanup, async (s) => {
      await seed(s, 'p1');
      await seed(s, 'p2', T0 + 1);
      const listed = await s.projects.listProjects();
      const changed = await attempt(
        s.projects.changeFlowRules(
          'p1',
          '{}',
          '{"notes":{"flow":"down"}}',
          {
            sections: [{ draftId: 'p1-d1', sections: ['agents'] }],
            added: [
              {
                row: {
                  ...draft('p1', 'p1-d2', 'p1-staging', 'section', T0 + 5),
                  sections: ['workflows'],
                },
                state: new Uint8Array([9]),
              },
            ],
            closed: [],
          },
          T0 + 5,
        ),
      );
      const stale = await attempt(
        s.projects.changeFlowRules(
          'p1',
          '{}',
          '{}',
          { sections: [], added: [], closed: [] },
          T0 + 6,
        ),
      );
      const closed = await attempt(
        s.projects.changeFlowRules(
          'p1',
          '{"notes":{"flow":"down"}}',
          '{}',
          { sections: [], added: [], closed: ['p1-d2'] },
          T0 + 7,
        ),
      );
      await s.projects.updateEnvironment('p1-dev', { name: 'Development', color: '#000000' });
      return {
        listed,
        changed,
        stale,
        closed,
        p1: await s.projects.getProject('p1'),
        missing: await s.projects.getProject('nope'),
        rules: await s.projects.flowRules('p2'),
        noRules: await s.projects.flowRules('nope'),
        dev: await s.projects.getEnvironment('p1-dev'),
        staging: await s.projects.getEnvironment('p1-staging'),
        noEnv: await s.projects.getEnvironment('nope'),
        draft: await s.projects.getDraft('p1-d2'),
        noDraft: await s.projects.getDraft('nope'),
      };
    });
    expect(out.listed.map((r) => r.project.id)).toEqual(['p2', 'p1']);
    expect(out.stale).toMatchObject({ error: 'rules_moved' });
    expect(out.p1?.drafts.map((d) => [d.id, d.sections, d.closedAt])).toEqual([
      ['p1-d1', ['agents'], null],
      ['p1-d2', ['workflows'], T0 + 7],
    ]);
  });
});

describe('PG-22: the PostgreSQL snapshot store answers as the SQLite one', () => {
  it('writes content-addressed blobs and snapshots once, reads them in batches', async () => {
    const many = Array.from({ length: 1100 }, (_, i) => ({ id: `b${i}`, json: `{"i":${i}}` }));
    const out = await both(pgx, cleanup, async (s) => {
      await seed(s, 'p1');
      await seed(s, 'p2');
      const snap = (pid: string) => ({
        projectId: pid,
        id: 'snap1',
        tree: '{"content":{}}',
        kind: 'sync',
        parentId: null,
        sourceDraftId: 'p1-d1',
        message: 'first',
        createdBy: 'u1',
        createdAt: T0,
      });
      // A blob twice in one call, and the same snapshot twice: no-ops, not errors.
      await s.snapshots.putSnapshot(snap('p1'), [many[0]!, many[1]!, many[0]!]);
      await s.snapshots.putSnapshot({ ...snap('p1'), message: 'again' }, [many[1]!]);
      await s.snapshots.putSnapshot(snap('p2'), []);
      await s.snapshots.putBlobs(many);
      await s.snapshots.putBlobs([]);
      const asked = [...many.map((b) => b.id), 'unknown'];
      return {
        known: [...(await s.snapshots.knownBlobIds(asked))].sort(),
        none: [...(await s.snapshots.knownBlobIds([]))],
        blobs: [...(await s.snapshots.getBlobs(asked))].sort(),
        one: await s.snapshots.getSnapshot('p1', 'snap1'),
        noSnapshot: await s.snapshots.getSnapshot('p1', 'nope'),
        found: asSet(await s.snapshots.findSnapshots('snap1')),
      };
    });
    expect(out.known).toHaveLength(1100);
    expect(out.one?.message).toBe('first');
    expect(out.found).toHaveLength(2);
  });

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
    expect((await createPgSnapshotStore(pgx).knownBlobIds(blobs.map((b) => b.id))).size).toBe(400);
  });
});

describe('PG-20: the PostgreSQL release store answers as the SQLite one', () => {
  it('moves pointers with their checks, records replications, pages and queries the chain', async () => {
    const out = await both(pgx, cleanup, async (s) => {
      await seed(s, 'p1');
      await s.gates.insertRequest(request('r1', 'p1', 'snapA'));
      const moves = [
        // The first sync into dev; closing the request it satisfied stands or falls with it.
        await attempt(
          s.releases.commitMove(
            move('p1', { environmentId: 'p1-dev', toSnapshotId: 'snapA', expectedFrom: null }),
            T0 + 1,
            (row) => s.gates.closeRequest('r1', 'done', `release ${row.seq}`, T0 + 1),
          ),
        ),
        await attempt(
          s.releases.commitMove(
            move('p1', {
              environmentId: 'p1-staging',
              toSnapshotId: 'snapA',
              source: { environmentId: 'p1-dev', pointer: 'current' },
              detail: { b: 1, a: [2] },
              message: 'to staging',
            }),
            T0 + 2,
          ),
        ),
        await attempt(
          s.releases.commitMove(
            move('p1', { environmentId: 'p1-dev', toSnapshotId: 'snapB', expectedFrom: 'snapX' }),
            T0 + 3,
          ),
        ),
        await attempt(
          s.releases.commitMove(
            move('p1', {
              environmentId: 'p1-prod',
              toSnapshotId: 'snapB',
              source: { environmentId: 'p1-staging', pointer: 'current' },
            }),
            T0 + 4,
          ),
        ),
        await attempt(
          s.releases.commitMove(
            move('p1', { environmentId: 'nope', toSnapshotId: 'snapB' }),
            T0 + 5,
          ),
        ),
        await attempt(
          s.releases.commitMove(
            move('p1', {
              environmentId: 'p1-prod',
              toSnapshotId: 'snapA',
              pointer: 'live',
              kind: 'publish',
              expectedFrom: null,
            }),
            T0 + 6,
          ),
        ),
        await attempt(
          s.releases.recordReplication(
            {
              projectId: 'p1',
              environmentId: 'p1-staging',
              kind: 'replicate',
              toSnapshotId: 'snapN1',
              fromSnapshotId: null,
              sourceEnvironmentId: 'p1-dev',
              actorId: 'u1',
              message: null,
              detail: { section: 'notes' },
            },
            T0 + 7,
          ),
        ),
        await attempt(
          s.releases.recordReplication(
            {
              projectId: 'p1',
              environmentId: 'p1-staging',
              kind: 'replicate',
              toSnapshotId: 'snapN2',
              fromSnapshotId: 'snapN1',
              sourceEnvironmentId: 'p1-dev',
              actorId: 'u1',
              message: null,
              detail: { section: 'faq' },
            },
            T0 + 8,
          ),
        ),
      ];
      // What fails alongside takes the move with it.
      const rolledBack = await attempt(
        s.releases.commitMove(
          move('p1', { environmentId: 'p1-dev', toSnapshotId: 'snapC' }),
          T0 + 9,
          () => {
            throw new AppError('source_moved');
          },
        ),
      );
      return {
        moves,
        rolledBack,
        dev: (await s.projects.getEnvironment('p1-dev'))?.environment,
        request: await s.gates.request('r1'),
        history: await s.releases.history('p1-staging'),
        historyShort: await s.releases.history('p1-staging', 1),
        page: await s.releases.historyPage('p1-staging', 8, 5),
        replicatedNotes: await s.releases.lastReplicated('p1-staging', 'notes'),
        replicatedFaq: await s.releases.lastReplicated('p1-staging', 'faq'),
        replicatedNever: await s.releases.lastReplicated('p1-dev', 'notes'),
        chain: await s.releases.chain('p1', 2, 3),
        all: await s.releases.projectReleases('p1'),
        wasAt: await s.releases.wasEverAt('p1-dev', 'current', 'snapA'),
        wasNotAt: await s.releases.wasEverAt('p1-dev', 'live', 'snapA'),
        lastMove: await s.releases.lastMove('p1-prod', 'live'),
        noMove: await s.releases.lastMove('p1-staging', 'live'),
        held: await s.releases.heldByAny(['p1-staging', 'p1-prod'], 'snapN1'),
        heldNone: await s.releases.heldByAny([], 'snapA'),
        notHeld: await s.releases.heldByAny(['p1-prod'], 'snapZ'),
      };
    });
    expect(out.moves.map((m) => (m as { error?: string }).error ?? 'ok')).toEqual([
      'ok',
      'ok',
      'target_moved',
      'source_moved',
      'environment_not_found',
      'ok',
      'ok',
      'ok',
    ]);
    expect(out.moves[2]).toEqual({
      error: 'target_moved',
      details: { expected: 'snapX', actual: 'snapA' },
    });
    expect(out.rolledBack).toMatchObject({ error: 'source_moved' });
    expect(out.dev?.snapshotId).toBe('snapA');
    expect(out.request?.state).toBe('done');
    expect(out.replicatedNotes).toBe(T0 + 7);
    expect(verifyChain(out.all, sha256)).toMatchObject({ ok: true, count: 5 });
  });
});

describe('PG-23: the PostgreSQL hotfix store answers as the SQLite one', () => {
  it('opens, rebases and closes hotfix drafts and tracks published hotfixes', async () => {
    await both(pgx, cleanup, async (s) => {
      await seed(s, 'p1');
      const before = await s.hotfixes.openDraft('p1-prod');
      await s.hotfixes.insertDraft(
        { ...draft('p1', 'h1', 'p1-prod', 'hotfix', T0 + 1), baseSnapshotId: 'snapA' },
        new Uint8Array([7]),
      );
      const opened = await s.hotfixes.openDraft('p1-prod');
      await s.hotfixes.setDraftBase('h1', 'snapB');
      const rebased = await s.hotfixes.openDraft('p1-prod');
      await s.hotfixes.closeDraft('h1', T0 + 2);
      const hotfix = (id: string, at: number) => ({
        id,
        projectId: 'p1',
        environmentId: 'p1-prod',
        draftId: 'h1',
        baseSnapshotId: 'snapA',
        snapshotId: 'snapB',
        publishedBy: 'u1',
        publishedAt: at,
        state: 'open',
      });
      await s.hotfixes.insert(hotfix('hf1', T0 + 2));
      await s.hotfixes.insert(hotfix('hf2', T0 + 3));
      await s.hotfixes.setState('hf1', 'resolved');
      return {
        before,
        opened,
        rebased,
        after: await s.hotfixes.openDraft('p1-prod'),
        since: (await s.hotfixes.startedSince('p1-prod', T0)).sort(),
        sinceLater: await s.hotfixes.startedSince('p1-prod', T0 + 1),
        open: asSet(await s.hotfixes.open('p1')),
        draft: await s.projects.getDraft('h1'),
      };
    });
  });

  it('of hotfixes started at once in one environment from four processes, exactly one opens', async () => {
    const stores = pgStores(pgx);
    await seed(stores, 'p1');
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
    const open = await pgx.pool.query(
      `select count(*)::int as n from drafts where kind = 'hotfix' and closed_at is null`,
    );
    expect(open.rows[0].n).toBe(1);
  });
});

describe('PG-24: the PostgreSQL audit store answers as the SQLite one', () => {
  it('appends to the instance chain and reads events by environment, project and time', async () => {
    const out = await both(pgx, cleanup, async (s) => {
      const rows = [];
      for (let i = 0; i < 6; i++)
        rows.push(
          await s.audit.audit(
            {
              projectId: i === 5 ? null : `p${i % 2}`,
              environmentId: i % 3 === 0 ? 'e1' : null,
              kind: i % 2 ? 'gate.changed' : 'member.added',
              actorId: i === 4 ? null : 'u1',
              subject: i === 2 ? undefined : { z: i, a: { y: [1, 'two'] } },
            },
            T0 + i,
          ),
        );
      return {
        rows,
        forEnv: await s.audit.auditFor('e1'),
        forEnvPage: await s.audit.auditFor('e1', 1, 4),
        since: asSet(await s.audit.auditTimesSince('p0', 'member.added', T0)),
        ofProject: await s.audit.auditOfProject('p1'),
        ofProjectShort: await s.audit.auditOfProject('p1', 1),
      };
    });
    expect(out.rows.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(out.since).toEqual([T0 + 2, T0 + 4]);
  });
});

describe('PG-26: the PostgreSQL gate store answers as the SQLite one', () => {
  it('keeps gate policies, checks, requests and approvals, and voids requests whose source moved', async () => {
    const out = await both(pgx, cleanup, async (s) => {
      await seed(s, 'p1');
      const noGate = await s.gates.gate('p1-staging');
      const policy = {
        environmentId: 'p1-staging',
        requiredApprovals: 1,
        allowSelfApproval: false,
        updatedBy: 'u1',
        updatedAt: T0,
      };
      await s.gates.putGate(policy);
      const first = await s.gates.gate('p1-staging');
      await s.gates.putGate({
        ...policy,
        requiredApprovals: 2,
        allowSelfApproval: true,
        requiredChecks: '["ci"]',
      });
      const check = (name: string, state: string, at: number) => ({
        environmentId: 'p1-staging',
        snapshotId: 'snapA',
        name,
        state,
        url: null,
        summary: null,
        reportedBy: 'bot',
        reportedAt: at,
      });
      // Upper case sorts before lower case by code point, whatever the database's collation.
      for (const c of [
        check('lint', 'pending', 1),
        check('ci', 'pending', 2),
        check('Build', 'success', 3),
        check('ci', 'failure', 4),
      ])
        await s.gates.putCheck(c);
      await s.gates.insertRequest(request('r1', 'p1', 'snapA'));
      await s.gates.insertRequest(request('r2', 'p1', 'snapB', { createdAt: T0 + 1 }));
      await s.gates.insertRequest(
        request('r3', 'p1', 'snapB', { kind: 'hotfix', createdAt: T0 + 2 }),
      );
      await s.gates.insertRequest(request('r4', 'p1', 'snapB', { createdAt: T0 + 3 }));
      await s.gates.putApproval({
        requestId: 'r1',
        userId: 'u3',
        decision: 'approve',
        comment: null,
        createdAt: T0 + 4,
      });
      await s.gates.putApproval({
        requestId: 'r1',
        userId: 'u3',
        decision: 'reject',
        comment: 'no',
        createdAt: T0 + 5,
      });
      await s.gates.putApproval({
        requestId: 'r2',
        userId: 'u4',
        decision: 'approve',
        comment: null,
        createdAt: T0 + 6,
      });
      await s.gates.closeRequest('r4', 'rejected', 'no', T0 + 7);
      await s.gates.closeRequest('r4', 'done', 'twice', T0 + 8);
      const openBefore = asSet(await s.gates.openRequests('p1'));
      const voided = await s.gates.voidRequestsFrom('p1-dev', 'snapB', T0 + 9);
      return {
        noGate,
        first,
        second: await s.gates.gate('p1-staging'),
        checks: await s.gates.checks('p1-staging', 'snapA'),
        count: await s.gates.checkCount('p1-staging', 'snapA'),
        noCount: await s.gates.checkCount('p1-staging', 'snapB'),
        r4: await s.gates.request('r4'),
        none: await s.gates.request('nope'),
        times: asSet(await s.gates.requestTimesFrom('p1-dev', T0)),
        openBefore,
        voided,
        voidedAgain: await s.gates.voidRequestsFrom('p1-dev', null, T0 + 10),
        openAfter: asSet(await s.gates.openRequests('p1')),
        approvals: asSet(await s.gates.approvals(['r1', 'r2', 'r9'])),
        noApprovals: await s.gates.approvals([]),
      };
    });
    expect(out.checks.map((c) => [c.name, c.state])).toEqual([
      ['Build', 'success'],
      ['ci', 'failure'],
      ['lint', 'pending'],
    ]);
    expect(out.count).toBe(3);
    expect(out.r4?.state).toBe('rejected');
    expect(out.voided).toEqual(['r1']);
    expect(out.voidedAgain).toEqual(['r2']);
  });

  it('a request closed while a void is under way stays closed and is not answered as voided', async () => {
    const stores = pgStores(pgx);
    await seed(stores, 'p1');
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

describe('PG-25: the PostgreSQL event store answers as the SQLite one', () => {
  it('appends, pages a project after a seq, knows the first and last seq, prunes by age', async () => {
    const out = await both(pgx, cleanup, async (s) => {
      await seed(s, 'p1');
      const empty = { last: await s.events.lastSeq(), first: await s.events.firstSeq() };
      const inserted = [];
      for (let i = 0; i < 6; i++)
        inserted.push(
          await s.events.insert({
            projectId: i % 3 === 2 ? 'p2' : 'p1',
            environmentId: i % 2 ? 'p1-dev' : null,
            kind: 'moved',
            actorId: 'u1',
            recipientId: i === 3 ? 'u2' : null,
            subject: { i, nested: { list: [1, 2] } },
            createdAt: T0 + i,
          }),
        );
      return {
        empty,
        inserted,
        after0: await s.events.after('p1', 0, 10),
        after2: await s.events.after('p1', 2, 2),
        last: await s.events.lastSeq(),
        pruned: await s.events.prune(T0 + 2),
        first: await s.events.firstSeq(),
        prunedNone: await s.events.prune(T0),
      };
    });
    expect(out.empty).toEqual({ last: 0, first: 0 });
    expect(out.after2.map((e) => e.seq)).toEqual([4, 5]);
    expect([out.last, out.pruned, out.first]).toEqual([6, 2, 3]);
  });
});

describe('PG-27: compare-and-swap holds when processes race', () => {
  it('of the same move sent by four processes at once, exactly one wins each round', async () => {
    const stores = pgStores(pgx);
    await seed(stores, 'p1');
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
    const stores = pgStores(pgx);
    await seed(stores, 'p1');
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
    const stores = pgStores(pgx);
    await seed(stores, 'p1');
    await seed(stores, 'p2');
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
    const stores = pgStores(pgx);
    await seed(stores, 'p1');
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
    const stores = pgStores(pgx);
    await seed(stores, 'p1');
    await seed(stores, 'p2');
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
    const stores = pgStores(pgx);
    await seed(stores, 'p1');
    await seed(stores, 'p2');
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

/** A promise and the function that resolves it. */
function opened<T>(): { promise: Promise<T>; open: (v: T) => void } {
  let open!: (v: T) => void;
  const promise = new Promise<T>((r) => (open = r));
  return { promise, open };
}

/** Polls (with a deadline) until `n` sessions wait for a lock (advisory or a row's). */
async function waitForLockWaiters(n: number): Promise<void> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const { rows } = await pgx.pool.query<{ n: number }>(
      `select count(*)::int as n from pg_locks where not granted`,
    );
    if (rows[0]!.n >= n) return;
    if (Date.now() > deadline) throw new Error(`no ${n} lock waiters after 5 s`);
    await new Promise((r) => setImmediate(r));
  }
}

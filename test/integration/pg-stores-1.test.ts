import { describe, expect, it } from 'vitest';
import { AppError } from '#schema/errors.ts';
import { verifyChain } from '#schema/release-chain.ts';
import { sha256 } from '#server/lib/hash.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { postgresPerFile } from '../helpers/pg-per-file.ts';
import {
  T0,
  asSet,
  attempt,
  draft,
  move,
  pgStores,
  request,
  sameOnBoth,
  seedProject,
  sqliteStores,
  type Stores,
} from '../helpers/dialects.ts';

/**
 * The PostgreSQL twins of the project, release, snapshot, hotfix, audit, gate and event stores
 * (PG-20 … PG-26): every method called the same way on a real SQLite store and a real PostgreSQL
 * store answers the same. Races between processes: pg-stores-1-races.test.ts.
 */

const cleanup = cleanupAfterEach();
const pg = postgresPerFile(cleanup);

/** The scenario on new SQLite stores and on PostgreSQL's (this test's database): the same answer. */
const both = <T>(scenario: (s: Stores) => Promise<T>) =>
  sameOnBoth(
    () => sqliteStores(cleanup),
    () => pgStores(pg.pgx),
    scenario,
  );

describe('PG-21: the PostgreSQL project store answers as the SQLite one', () => {
  it('inserts, lists, reads, changes flow rules (compare-and-swap) and environments', async () => {
    const out = await both(async (s) => {
      await seedProject(s, 'p1');
      await seedProject(s, 'p2', T0 + 1);
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
    const out = await both(async (s) => {
      await seedProject(s, 'p1');
      await seedProject(s, 'p2');
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
});

describe('PG-20: the PostgreSQL release store answers as the SQLite one', () => {
  it('moves pointers with their checks, records replications, pages and queries the chain', async () => {
    const out = await both(async (s) => {
      await seedProject(s, 'p1');
      await s.gates.insertRequest(request('r1', 'p1', 'snapA'));
      const moves = [
        // The first sync into dev; closing the request it satisfied stands or falls with it.
        await attempt(
          s.atomically(async () => {
            const row = await s.releases.commitMove(
              move('p1', { environmentId: 'p1-dev', toSnapshotId: 'snapA', expectedFrom: null }),
              T0 + 1,
            );
            await s.gates.closeRequest('r1', 'done', `release ${row.seq}`, T0 + 1);
            return row;
          }),
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
        s.atomically(async () => {
          await s.releases.commitMove(
            move('p1', { environmentId: 'p1-dev', toSnapshotId: 'snapC' }),
            T0 + 9,
          );
          throw new AppError('source_moved');
        }),
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
    await both(async (s) => {
      await seedProject(s, 'p1');
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
});

describe('PG-24: the PostgreSQL audit store answers as the SQLite one', () => {
  it('appends to the instance chain and reads events by environment, project and time', async () => {
    const out = await both(async (s) => {
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
    const out = await both(async (s) => {
      await seedProject(s, 'p1');
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
});

describe('PG-25: the PostgreSQL event store answers as the SQLite one', () => {
  it('appends, pages a project after a seq, knows the first and last seq, prunes by age', async () => {
    const out = await both(async (s) => {
      await seedProject(s, 'p1');
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

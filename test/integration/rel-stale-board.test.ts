import { afterEach, describe, expect, it } from 'vitest';
import { sampleContent } from '#schema/content/sample.ts';
import { startTestServer } from '../helpers/server.ts';
import { adminOf, newUser } from '../helpers/fixture.ts';

type Server = Awaited<ReturnType<typeof startTestServer>>;
let server: Server;
afterEach(() => server?.close());

interface Pending {
  fromEnvironmentId: string;
  toEnvironmentId: string;
  fromSnapshotId: string | null;
  toSnapshotId: string | null;
}
type Board = {
  pending: Pending[];
  stages: { environmentId: string; current: { snapshot: { id: string } | null } | null }[];
};

describe('REL-1: what moves is what was reviewed', () => {
  it('REL-1 a stale board (TEST moved since it was read) is refused 409 source_moved and moves nothing; fresh ids move; requests too; ids only to readers', async () => {
    server = await startTestServer();
    const admin = await adminOf(server.url);
    const { body: p } = await admin.call<{ id: string; environments: { id: string }[] }>(
      'POST',
      '/api/projects',
      { name: 'Stale', sample: true },
    );
    const [dev, test, uat] = p.environments.map((e) => e.id) as [string, string, string];
    const qa = await newUser(admin, 'qa@example.com', 'Quinn QA');
    await admin.call('PUT', `/api/projects/${p.id}/members/${qa.id}`, {
      roles: { [test]: ['viewer', 'promoter'], [uat]: ['viewer'] },
    });
    // Change A reaches TEST.
    expect((await admin.call('POST', `/api/environments/${dev}/sync`, {})).status).toBe(200);

    // QA reads the board: TEST = Change A.
    const { body: seen } = await qa.call<Board>('GET', `/api/projects/${p.id}/board`);
    const move = seen.pending.find((m) => m.fromEnvironmentId === test)!;
    const testNow = (
      await admin.call<{ environments: { id: string; snapshotId: string | null }[] }>(
        'GET',
        `/api/projects/${p.id}`,
      )
    ).body.environments;
    expect(move.fromSnapshotId).toBe(testNow[1]!.snapshotId);
    expect(move.toSnapshotId).toBeNull(); // UAT has nothing yet
    // DEV's id is not QA's to see; the admin sees what DEV's draft would freeze to.
    expect(seen.pending.find((m) => m.fromEnvironmentId === dev)).toMatchObject({
      fromSnapshotId: null,
      toSnapshotId: move.fromSnapshotId,
    });
    const { body: adminBoard } = await admin.call<Board>('GET', `/api/projects/${p.id}/board`);
    const devMove = adminBoard.pending.find((m) => m.fromEnvironmentId === dev)!;
    expect(devMove.fromSnapshotId).toBe(move.fromSnapshotId); // the draft is what TEST holds

    // A developer syncs Change B into TEST.
    const next = sampleContent();
    next.knowledge.kb_sizes!.title = 'Change B';
    expect((await admin.call('PUT', `/api/environments/${dev}/content`, next)).status).toBe(200);
    const { body: afterEdit } = await admin.call<Board>('GET', `/api/projects/${p.id}/board`);
    const draftB = afterEdit.pending.find((m) => m.fromEnvironmentId === dev)!.fromSnapshotId!;
    expect(draftB).not.toBe(devMove.fromSnapshotId);
    // The admin's own board from before the edit is stale for DEV too.
    const { status: devStale, body: devStaleBody } = await admin.call<{ error: { id: string } }>(
      'POST',
      `/api/environments/${dev}/sync`,
      { expectedSourceSnapshotId: devMove.fromSnapshotId },
    );
    expect([devStale, devStaleBody.error.id]).toEqual([409, 'source_moved']);
    const { status: synced, body: result } = await admin.call<{ snapshotId: string }>(
      'POST',
      `/api/environments/${dev}/sync`,
      { expectedSourceSnapshotId: draftB },
    );
    expect(synced).toBe(200);
    expect(result.snapshotId).toBe(draftB);

    // QA clicks "Sync to UAT" from the stale board: refused, UAT unchanged.
    const { status: stale, body: staleBody } = await qa.call<{ error: { id: string } }>(
      'POST',
      `/api/environments/${test}/sync`,
      {
        expectedSourceSnapshotId: move.fromSnapshotId,
        expectedTargetSnapshotId: move.toSnapshotId,
      },
    );
    expect(stale).toBe(409);
    expect(staleBody.error.id).toBe('source_moved');
    const uatNow = (
      await admin.call<{ environments: { id: string; snapshotId: string | null }[] }>(
        'GET',
        `/api/projects/${p.id}`,
      )
    ).body.environments[2]!;
    expect(uatNow.snapshotId).toBeNull();
    // A stale request is refused too, and asks for nothing.
    const { status: staleReq, body: staleReqBody } = await qa.call<{ error: { id: string } }>(
      'POST',
      `/api/environments/${test}/requests`,
      { expectedSourceSnapshotId: move.fromSnapshotId },
    );
    expect([staleReq, staleReqBody.error.id]).toEqual([409, 'source_moved']);
    expect(
      (await admin.call<{ requests: unknown[] }>('GET', `/api/projects/${p.id}/requests`)).body
        .requests,
    ).toEqual([]);

    // Reloaded: the fresh ids move exactly Change B; a request with them is accepted.
    const { body: fresh } = await qa.call<Board>('GET', `/api/projects/${p.id}/board`);
    const freshMove = fresh.pending.find((m) => m.fromEnvironmentId === test)!;
    expect(freshMove.fromSnapshotId).toBe(draftB);
    const { status: reqOk, body: req } = await qa.call<{ snapshotId: string }>(
      'POST',
      `/api/environments/${test}/requests`,
      { expectedSourceSnapshotId: freshMove.fromSnapshotId },
    );
    expect(reqOk).toBe(201);
    expect(req.snapshotId).toBe(draftB);
    const { status: ok, body: moved } = await qa.call<{ snapshotId: string }>(
      'POST',
      `/api/environments/${test}/sync`,
      {
        expectedSourceSnapshotId: freshMove.fromSnapshotId,
        expectedTargetSnapshotId: freshMove.toSnapshotId,
      },
    );
    expect(ok).toBe(200);
    expect(moved.snapshotId).toBe(draftB);
    // Absent: no check (API compatibility).
    expect((await admin.call('POST', `/api/environments/${dev}/sync`, {})).status).toBe(200);
  });

  it("REL-1 with a section that does not move by Sync (channels local), the board's candidate is what a Sync and a request from the authoring stage are checked against", async () => {
    server = await startTestServer();
    const admin = await adminOf(server.url);
    const stage = (name: string, kind: string) => ({ name, kind, color: '#0d9488' });
    const stages = [stage('DEV', 'dev'), stage('QA', 'test'), stage('PROD', 'production')];
    // The sample's channels stay in DEV's draft: a Sync does not carry them.
    const { status: created, body: p } = await admin.call<{
      id: string;
      environments: { id: string }[];
    }>('POST', '/api/projects', {
      name: 'Local channels',
      preset: 'custom',
      sample: true,
      stages,
      flowRules: { channels: { direction: 'local' } },
    });
    expect(created).toBe(201);
    const first = p.environments[0]!.id;
    const { body: board } = await admin.call<Board>('GET', `/api/projects/${p.id}/board`);
    const candidate = board.pending.find((m) => m.fromEnvironmentId === first)!.fromSnapshotId!;
    expect(candidate).toMatch(/^[0-9a-f]{64}$/);
    const { status: requested } = await admin.call('POST', `/api/environments/${first}/requests`, {
      expectedSourceSnapshotId: candidate,
    });
    expect(requested).toBe(201);
    const { status: synced, body: result } = await admin.call<{ snapshotId: string }>(
      'POST',
      `/api/environments/${first}/sync`,
      { expectedSourceSnapshotId: candidate, expectedTargetSnapshotId: null },
    );
    expect(synced).toBe(200);
    expect(result.snapshotId).toBe(candidate);
  });
});

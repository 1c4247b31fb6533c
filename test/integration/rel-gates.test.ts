import { describe, expect, it } from 'vitest';
import type { ProjectView } from '#schema/api.ts';
import { setupAdmin, startTestServer } from '../helpers/server.ts';
import { newUser, overTheWire } from '../helpers/fixture.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { stored } from '../helpers/dialect.ts';

/**
 * Issue 13 point 2: in projects with `down` or `local` sections a request froze the whole
 * authoring draft while the Sync froze only its `up` sections, so an approved request always
 * ended in 409 approval_voided. One candidate now serves requests, approvals, Sync and the board.
 */
const cleanup = cleanupAfterEach();

type Req = { id: string; snapshotId: string; approved: boolean; valid: boolean; state: string };
type Err = { error: { id: string; details?: unknown } };

/**
 * A sample project (`body`: preset or custom stages) with a one-approval gate on stage `gated`, an
 * approver there and an admin.
 */
async function gatedProject(body: Record<string, unknown>, gated: number) {
  const server = await startTestServer(undefined, { REPLICATION_DELAY_MS: '50' });
  cleanup.push(() => server.close());
  const admin = (await setupAdmin(server.url)).token;
  const api = (token: string) => overTheWire(server.url, token);
  const { status, body: project } = await api(admin).call<ProjectView>('POST', '/api/projects', {
    name: 'Gated',
    sample: true,
    ...body,
  });
  expect(status).toBe(201);
  const envs = project.environments;
  const target = envs[gated]!;
  const approver = await newUser(
    overTheWire(server.url, admin),
    'approver@example.com',
    'Avery Approver',
  );
  expect(
    (
      await api(admin).call('PUT', `/api/projects/${project.id}/members/${approver.id}`, {
        roles: { [target.id]: ['viewer', 'approver'] },
      })
    ).status,
  ).toBe(200);
  expect(
    (
      await api(admin).call('PUT', `/api/environments/${target.id}/gate`, {
        requiredApprovals: 1,
        allowSelfApproval: false,
      })
    ).status,
  ).toBe(200);
  // The sample's knowledge (a `down` section) has reached the first stage: its draft holds more than a Sync carries.
  const knowledge = async () =>
    Object.keys(
      (
        await api(admin).call<{ knowledge: object }>(
          'GET',
          `/api/environments/${envs[0]!.id}/content`,
        )
      ).body.knowledge,
    ).length;
  await expect.poll(knowledge).toBeGreaterThan(0);
  const openRequests = async () =>
    (await api(admin).call<{ requests: Req[] }>('GET', `/api/projects/${project.id}/requests`)).body
      .requests;
  return { server, admin, approver: approver.token, api, project, envs, openRequests };
}

/** Request the move out of `sourceId`, approve it as another person, Sync: 200, the request done. */
async function requestApproveSync(
  g: Awaited<ReturnType<typeof gatedProject>>,
  sourceId: string,
  targetId: string,
) {
  const { body: board } = await g
    .api(g.admin)
    .call<{ pending: { fromEnvironmentId: string; fromSnapshotId: string }[] }>(
      'GET',
      `/api/projects/${g.project.id}/board`,
    );
  const candidate = board.pending.find((m) => m.fromEnvironmentId === sourceId)!.fromSnapshotId;
  const { status: created, body: req } = await g
    .api(g.admin)
    .call<Req>('POST', `/api/environments/${sourceId}/requests`, {
      expectedSourceSnapshotId: candidate,
      message: 'Ready',
    });
  expect(created).toBe(201);
  // The request binds to exactly what the board showed a Sync would move.
  expect(req.snapshotId).toBe(candidate);
  const { status: approved, body: decided } = await g
    .api(g.approver)
    .call<Req>('POST', `/api/requests/${req.id}/approve`, {});
  expect(approved).toBe(200);
  expect(decided).toMatchObject({ approved: true, valid: true });
  expect((await g.openRequests()).find((r) => r.id === req.id)).toMatchObject({
    valid: true,
    approved: true,
  });

  const { status: synced, body: result } = await g
    .api(g.admin)
    .call<{ snapshotId: string } & Err>('POST', `/api/environments/${sourceId}/sync`, {
      expectedSourceSnapshotId: candidate,
    });
  expect(synced, JSON.stringify(result)).toBe(200);
  expect(result.snapshotId).toBe(req.snapshotId);
  expect(await g.openRequests()).toEqual([]);
  const { body: history } = await g
    .api(g.admin)
    .call<{ history: { kind: string; detail: { requestId?: string } }[] }>(
      'GET',
      `/api/environments/${targetId}/history`,
    );
  expect(history.history[0]).toMatchObject({ kind: 'sync', detail: { requestId: req.id } });
}

describe('REL-2 gates pass in projects with down or local sections', () => {
  it('REL-2 three-stage preset (knowledge flows down): request → approval by another person → Sync Staging → UAT is 200 and closes the request', async () => {
    const g = await gatedProject({ preset: 'three-stage' }, 1);
    const [staging, uat] = g.envs;
    await requestApproveSync(g, staging!.id, uat!.id);
  });

  it('REL-2 five stages with a local section (channels) and a down one (knowledge): the gated Sync out of DEV passes', async () => {
    const stage = (name: string, kind: string) => ({ name, kind, color: '#0d9488' });
    const stages = [
      stage('DEV', 'dev'),
      stage('TEST', 'test'),
      stage('UAT', 'uat'),
      stage('STAGING', 'staging'),
      stage('PRODUCTION', 'production'),
    ];
    const g = await gatedProject(
      {
        preset: 'custom',
        stages,
        flowRules: {
          knowledge: { direction: 'down', source: 'UAT', editableIn: ['TEST'] },
          channels: { direction: 'local' },
        },
      },
      1,
    );
    const [dev, test] = g.envs;
    await requestApproveSync(g, dev!.id, test!.id);
  });

  it('REL-2 the request closes with the move, not before it: a Sync refused by a later check leaves the approved request open; the confirmed Sync closes it', async () => {
    const g = await gatedProject({ preset: 'three-stage' }, 2);
    const [staging, uat, production] = g.envs;
    expect(
      (await g.api(g.admin).call('POST', `/api/environments/${staging!.id}/sync`, {})).status,
    ).toBe(200);
    const { body: req } = await g
      .api(g.admin)
      .call<Req>('POST', `/api/environments/${uat!.id}/requests`, {});
    expect(
      (await g.api(g.approver).call('POST', `/api/requests/${req.id}/approve`, {})).status,
    ).toBe(200);

    // The sample's integrations name secrets Production does not have: refused after the gate was satisfied.
    const { status: refused, body } = await g
      .api(g.admin)
      .call<Err>('POST', `/api/environments/${uat!.id}/sync`, {});
    expect([refused, body.error.id]).toEqual([409, 'secrets_missing']);
    expect(await g.openRequests()).toEqual([
      expect.objectContaining({ id: req.id, state: 'open', valid: true, approved: true }),
    ]);
    const { body: beforeHistory } = await g
      .api(g.admin)
      .call<{ history: unknown[] }>('GET', `/api/environments/${production!.id}/history`);
    expect(beforeHistory.history).toEqual([]);

    const { status: synced } = await g
      .api(g.admin)
      .call('POST', `/api/environments/${uat!.id}/sync`, { confirmMissingSecrets: true });
    expect(synced).toBe(200);
    expect(await g.openRequests()).toEqual([]);
    const { body: history } = await g
      .api(g.admin)
      .call<{ history: { detail: { requestId?: string } }[] }>(
        'GET',
        `/api/environments/${production!.id}/history`,
      );
    expect(history.history.map((h) => h.detail.requestId)).toEqual([req.id]);
  });

  it('REL-2 the move and the closing of its request are one transaction: if closing the request fails, the pointer does not move; once it can, both happen', async () => {
    const g = await gatedProject({ preset: 'three-stage' }, 1);
    const [staging, uat] = g.envs;
    const { body: req } = await g
      .api(g.admin)
      .call<Req>('POST', `/api/environments/${staging!.id}/requests`, {});
    expect(
      (await g.api(g.approver).call('POST', `/api/requests/${req.id}/approve`, {})).status,
    ).toBe(200);
    // Storage refuses to mark the request done (as a full disk would, midway).
    const allow = await stored(g.server).refuse(
      'refuse_done',
      'promotion_requests',
      'UPDATE OF state',
      {
        when: "NEW.state = 'done'",
      },
    );
    const { status: failed } = await g
      .api(g.admin)
      .call('POST', `/api/environments/${staging!.id}/sync`, {});
    expect(failed).toBeGreaterThanOrEqual(500);
    const uatNow = async () =>
      (
        await g
          .api(g.admin)
          .call<{ environments: { id: string; snapshotId: string | null }[] }>(
            'GET',
            `/api/projects/${g.project.id}`,
          )
      ).body.environments.find((e) => e.id === uat!.id)!.snapshotId;
    expect(await uatNow()).toBeNull();
    expect(
      (
        await g
          .api(g.admin)
          .call<{ history: unknown[] }>('GET', `/api/environments/${uat!.id}/history`)
      ).body.history,
    ).toEqual([]);
    expect(await g.openRequests()).toEqual([
      expect.objectContaining({ id: req.id, valid: true, approved: true }),
    ]);

    await allow();
    expect(
      (await g.api(g.admin).call('POST', `/api/environments/${staging!.id}/sync`, {})).status,
    ).toBe(200);
    expect(await uatNow()).toBe(req.snapshotId);
    expect(await g.openRequests()).toEqual([]);
  });

  it('REL-2 the board, the request and the Sync agree on the candidate; after the move the board shows nothing left to move', async () => {
    const g = await gatedProject({ preset: 'three-stage' }, 1);
    const [staging] = g.envs;
    const { body: first } = await g
      .api(g.admin)
      .call<Req>('POST', `/api/environments/${staging!.id}/requests`, {});
    const { body: board } = await g
      .api(g.admin)
      .call<{ pending: { fromSnapshotId: string }[]; requests: Req[] }>(
        'GET',
        `/api/projects/${g.project.id}/board`,
      );
    expect(board.pending[0]!.fromSnapshotId).toBe(first.snapshotId);
    expect(board.requests).toEqual([expect.objectContaining({ id: first.id, valid: true })]);
    expect(
      (await g.api(g.approver).call('POST', `/api/requests/${first.id}/approve`, {})).status,
    ).toBe(200);
    expect(
      (await g.api(g.admin).call('POST', `/api/environments/${staging!.id}/sync`, {})).status,
    ).toBe(200);
    const { body: afterBoard } = await g
      .api(g.admin)
      .call<{ pending: { fromSnapshotId: string; toSnapshotId: string; total: number }[] }>(
        'GET',
        `/api/projects/${g.project.id}/board`,
      );
    expect(afterBoard.pending[0]).toMatchObject({
      fromSnapshotId: first.snapshotId,
      toSnapshotId: first.snapshotId,
    });
    expect(await g.openRequests()).toEqual([]);
  });
});

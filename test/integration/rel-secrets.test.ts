import { describe, expect, it } from 'vitest';
import type { ProjectView } from '#schema/api.ts';
import { setupAdmin, startTestServer } from '../helpers/server.ts';
import { newUser, overTheWire } from '../helpers/fixture.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';

/**
 * Issue 13 point 12: production went live with two secrets its integrations name missing, with
 * no warning. The sample's integrations name ORDERS_API_TOKEN and HELPDESK_API_KEY.
 */
const cleanup = cleanupAfterEach();

type Err = {
  error: { id: string; message: string; details: { environmentId: string; missing: string[] } };
};
type Env = { id: string; snapshotId: string | null; liveSnapshotId?: string | null };
type Board = { stages: { environmentId: string; readable: boolean; missingSecrets: string[] }[] };
const SAMPLE_SECRETS = ['HELPDESK_API_KEY', 'ORDERS_API_TOKEN'];
const VALUE = 'sk-live-do-not-leak-4242';

async function sampleProject() {
  const server = await startTestServer();
  cleanup.push(() => server.close());
  const admin = (await setupAdmin(server.url)).token;
  const api = overTheWire(server.url, admin);
  const { status, body: project } = await api.call<ProjectView>('POST', '/api/projects', {
    name: 'Secrets',
    sample: true,
  });
  expect(status).toBe(201);
  const envs = project.environments;
  const prod = envs[envs.length - 1]!;
  const state = async () =>
    (
      await api.call<{ environments: Env[] }>('GET', `/api/projects/${project.id}`)
    ).body.environments.find((e) => e.id === prod.id)!;
  // Up to STAGING: no secrets are asked for before production.
  for (const e of envs.slice(0, -2))
    expect((await api.call('POST', `/api/environments/${e.id}/sync`, {})).status).toBe(200);
  return { server, admin, api, project, envs, prod, staging: envs[envs.length - 2]!, state };
}

describe('REL-12 missing secrets are named before production changes', () => {
  it('REL-12 a Sync into production whose integrations name secrets production lacks: 409 secrets_missing with the names, nothing moved; confirmed: 200, recorded', async () => {
    const p = await sampleProject();
    // One of the two is set: only the other is named, and no value ever appears.
    expect(
      (
        await p.api.call('PUT', `/api/environments/${p.prod.id}/secrets/ORDERS_API_TOKEN`, {
          value: VALUE,
        })
      ).status,
    ).toBe(200);
    const { status: refused, body } = await p.api.call<Err>(
      'POST',
      `/api/environments/${p.staging.id}/sync`,
      {},
    );
    expect(refused).toBe(409);
    expect(body.error.id).toBe('secrets_missing');
    expect(body.error.details).toEqual({ environmentId: p.prod.id, missing: ['HELPDESK_API_KEY'] });
    expect(body.error.message).toContain('HELPDESK_API_KEY');
    expect(JSON.stringify(body)).not.toContain(VALUE);
    expect((await p.state()).snapshotId).toBeNull();
    expect(
      (await p.api.call<{ history: unknown[] }>('GET', `/api/environments/${p.prod.id}/history`))
        .body.history,
    ).toEqual([]);

    const { status: ok, body: result } = await p.api.call<{
      release: { detail: { confirmedMissingSecrets?: string[] } };
    }>('POST', `/api/environments/${p.staging.id}/sync`, { confirmMissingSecrets: true });
    expect(ok).toBe(200);
    expect(result.release.detail.confirmedMissingSecrets).toEqual(['HELPDESK_API_KEY']);
    expect((await p.state()).snapshotId).not.toBeNull();
  });

  it('REL-12 a Publish likewise: 409 with the names and live unchanged; confirmed: 200', async () => {
    const p = await sampleProject();
    expect(
      (
        await p.api.call('POST', `/api/environments/${p.staging.id}/sync`, {
          confirmMissingSecrets: true,
        })
      ).status,
    ).toBe(200);
    const { status: refused, body } = await p.api.call<Err>(
      'POST',
      `/api/environments/${p.prod.id}/publish`,
      {},
    );
    expect([refused, body.error.id]).toEqual([409, 'secrets_missing']);
    expect(body.error.details).toEqual({ environmentId: p.prod.id, missing: SAMPLE_SECRETS });
    expect((await p.state()).liveSnapshotId).toBeNull();
    expect(
      (
        await p.api.call('POST', `/api/environments/${p.prod.id}/publish`, {
          confirmMissingSecrets: 'yes',
        })
      ).status,
    ).toBe(400);

    const { status: ok } = await p.api.call('POST', `/api/environments/${p.prod.id}/publish`, {
      confirmMissingSecrets: true,
    });
    expect(ok).toBe(200);
    expect((await p.state()).liveSnapshotId).toBe((await p.state()).snapshotId);
  });

  it('REL-12 once production has every secret its content names, Sync and Publish need no confirmation', async () => {
    const p = await sampleProject();
    for (const name of SAMPLE_SECRETS)
      expect(
        (
          await p.api.call('PUT', `/api/environments/${p.prod.id}/secrets/${name}`, {
            value: VALUE,
          })
        ).status,
      ).toBe(200);
    expect((await p.api.call('POST', `/api/environments/${p.staging.id}/sync`, {})).status).toBe(
      200,
    );
    expect((await p.api.call('POST', `/api/environments/${p.prod.id}/publish`, {})).status).toBe(
      200,
    );
    const { body: board } = await p.api.call<Board>('GET', `/api/projects/${p.project.id}/board`);
    expect(board.stages.find((s) => s.environmentId === p.prod.id)!.missingSecrets).toEqual([]);
  });

  it('REL-12 the board lists each stage’s missing secrets by name to its readers; a viewer without secret rights gets names, never values; a non-reader gets none', async () => {
    const p = await sampleProject();
    expect(
      (
        await p.api.call('PUT', `/api/environments/${p.prod.id}/secrets/ORDERS_API_TOKEN`, {
          value: VALUE,
        })
      ).status,
    ).toBe(200);
    expect(
      (
        await p.api.call('POST', `/api/environments/${p.staging.id}/sync`, {
          confirmMissingSecrets: true,
        })
      ).status,
    ).toBe(200);
    const missingOf = (board: Board) =>
      Object.fromEntries(board.stages.map((s) => [s.environmentId, s.missingSecrets]));

    const { body: adminBoard } = await p.api.call<Board>(
      'GET',
      `/api/projects/${p.project.id}/board`,
    );
    expect(missingOf(adminBoard)).toEqual(
      Object.fromEntries(
        p.envs.map((e) => [e.id, e.id === p.prod.id ? ['HELPDESK_API_KEY'] : SAMPLE_SECRETS]),
      ),
    );

    // A production viewer (no environment admin role: may not open its secrets) sees the names, no value.
    const viewer = await newUser(
      overTheWire(p.server.url, p.admin),
      'viewer@example.com',
      'Vera Viewer',
    );
    const dev = p.envs[0]!;
    expect(
      (
        await p.api.call('PUT', `/api/projects/${p.project.id}/members/${viewer.id}`, {
          roles: { [p.prod.id]: ['viewer'] },
        })
      ).status,
    ).toBe(200);
    expect(
      (
        await p.api.call('GET', `/api/environments/${p.prod.id}/secrets`, undefined, {
          as: viewer.token,
        })
      ).status,
    ).toBe(403);
    const { status, body: viewerBoard } = await p.api.call<Board>(
      'GET',
      `/api/projects/${p.project.id}/board`,
      undefined,
      { as: viewer.token },
    );
    expect(status).toBe(200);
    expect(missingOf(viewerBoard)[p.prod.id]).toEqual(['HELPDESK_API_KEY']);
    // DEV is not theirs to read: nothing about it.
    expect(missingOf(viewerBoard)[dev.id]).toEqual([]);
    expect(JSON.stringify(viewerBoard)).not.toContain(VALUE);
  });

  it('REL-12 a Sync into a stage before production is not asked about secrets', async () => {
    const p = await sampleProject();
    const { body: board } = await p.api.call<Board>('GET', `/api/projects/${p.project.id}/board`);
    // STAGING lacks both, yet the Syncs into it (in sampleProject) passed without confirmation.
    expect(board.stages.find((s) => s.environmentId === p.staging.id)!.missingSecrets).toEqual(
      SAMPLE_SECRETS,
    );
  });
});

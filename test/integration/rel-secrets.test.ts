import { afterEach, describe, expect, it } from 'vitest';
import type { ProjectView } from '#schema/api.ts';
import { setupAdmin, startTestServer } from '../helpers/server.ts';
import { as, userWithToken } from '../helpers/users.ts';

/**
 * Issue 13 point 12: production went live with two secrets its integrations name missing, with
 * no warning. The sample's integrations name ORDERS_API_TOKEN and HELPDESK_API_KEY.
 */
const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

type Err = { error: { id: string; message: string; details: { environmentId: string; missing: string[] } } };
type Env = { id: string; snapshotId: string | null; liveSnapshotId?: string | null };
type Board = { stages: { environmentId: string; readable: boolean; missingSecrets: string[] }[] };
const SAMPLE_SECRETS = ['HELPDESK_API_KEY', 'ORDERS_API_TOKEN'];
const VALUE = 'sk-live-do-not-leak-4242';

async function sampleProject() {
  const server = await startTestServer();
  cleanup.push(() => server.close());
  const admin = (await setupAdmin(server.url)).token;
  const api = <T = Record<string, unknown>>(method: string, path: string, body?: unknown, token = admin) => as<T>(server.url, token, method, path, body);
  const [status, project] = await api<ProjectView>('POST', '/projects', { name: 'Secrets', sample: true });
  expect(status).toBe(201);
  const envs = project.environments;
  const prod = envs[envs.length - 1]!;
  const state = async () => (await api<{ environments: Env[] }>('GET', `/projects/${project.id}`))[1].environments.find((e) => e.id === prod.id)!;
  // Up to STAGING: no secrets are asked for before production.
  for (const e of envs.slice(0, -2)) expect((await api('POST', `/environments/${e.id}/sync`, {}))[0]).toBe(200);
  return { server, admin, api, project, envs, prod, staging: envs[envs.length - 2]!, state };
}

describe('REL-12 missing secrets are named before production changes', () => {
  it('REL-12 a Sync into production whose integrations name secrets production lacks: 409 secrets_missing with the names, nothing moved; confirmed: 200, recorded', async () => {
    const p = await sampleProject();
    // One of the two is set: only the other is named, and no value ever appears.
    expect((await p.api('PUT', `/environments/${p.prod.id}/secrets/ORDERS_API_TOKEN`, { value: VALUE }))[0]).toBe(200);
    const [refused, body] = await p.api<Err>('POST', `/environments/${p.staging.id}/sync`, {});
    expect(refused).toBe(409);
    expect(body.error.id).toBe('secrets_missing');
    expect(body.error.details).toEqual({ environmentId: p.prod.id, missing: ['HELPDESK_API_KEY'] });
    expect(body.error.message).toContain('HELPDESK_API_KEY');
    expect(JSON.stringify(body)).not.toContain(VALUE);
    expect((await p.state()).snapshotId).toBeNull();
    expect((await p.api<{ history: unknown[] }>('GET', `/environments/${p.prod.id}/history`))[1].history).toEqual([]);

    const [ok, result] = await p.api<{ release: { detail: { confirmedMissingSecrets?: string[] } } }>('POST', `/environments/${p.staging.id}/sync`, { confirmMissingSecrets: true });
    expect(ok).toBe(200);
    expect(result.release.detail.confirmedMissingSecrets).toEqual(['HELPDESK_API_KEY']);
    expect((await p.state()).snapshotId).not.toBeNull();
  });

  it('REL-12 a Publish likewise: 409 with the names and live unchanged; confirmed: 200', async () => {
    const p = await sampleProject();
    expect((await p.api('POST', `/environments/${p.staging.id}/sync`, { confirmMissingSecrets: true }))[0]).toBe(200);
    const [refused, body] = await p.api<Err>('POST', `/environments/${p.prod.id}/publish`, {});
    expect([refused, body.error.id]).toEqual([409, 'secrets_missing']);
    expect(body.error.details).toEqual({ environmentId: p.prod.id, missing: SAMPLE_SECRETS });
    expect((await p.state()).liveSnapshotId).toBeNull();
    expect((await p.api('POST', `/environments/${p.prod.id}/publish`, { confirmMissingSecrets: 'yes' }))[0]).toBe(400);

    const [ok] = await p.api('POST', `/environments/${p.prod.id}/publish`, { confirmMissingSecrets: true });
    expect(ok).toBe(200);
    expect((await p.state()).liveSnapshotId).toBe((await p.state()).snapshotId);
  });

  it('REL-12 once production has every secret its content names, Sync and Publish need no confirmation', async () => {
    const p = await sampleProject();
    for (const name of SAMPLE_SECRETS) expect((await p.api('PUT', `/environments/${p.prod.id}/secrets/${name}`, { value: VALUE }))[0]).toBe(200);
    expect((await p.api('POST', `/environments/${p.staging.id}/sync`, {}))[0]).toBe(200);
    expect((await p.api('POST', `/environments/${p.prod.id}/publish`, {}))[0]).toBe(200);
    const [, board] = await p.api<Board>('GET', `/projects/${p.project.id}/board`);
    expect(board.stages.find((s) => s.environmentId === p.prod.id)!.missingSecrets).toEqual([]);
  });

  it('REL-12 the board lists each stage’s missing secrets by name to its readers; a viewer without secret rights gets names, never values; a non-reader gets none', async () => {
    const p = await sampleProject();
    expect((await p.api('PUT', `/environments/${p.prod.id}/secrets/ORDERS_API_TOKEN`, { value: VALUE }))[0]).toBe(200);
    expect((await p.api('POST', `/environments/${p.staging.id}/sync`, { confirmMissingSecrets: true }))[0]).toBe(200);
    const missingOf = (board: Board) => Object.fromEntries(board.stages.map((s) => [s.environmentId, s.missingSecrets]));

    const [, adminBoard] = await p.api<Board>('GET', `/projects/${p.project.id}/board`);
    expect(missingOf(adminBoard)).toEqual(Object.fromEntries(p.envs.map((e) => [e.id, e.id === p.prod.id ? ['HELPDESK_API_KEY'] : SAMPLE_SECRETS])));

    // A production viewer (no environment admin role: may not open its secrets) sees the names, no value.
    const viewer = await userWithToken(p.server.url, p.admin, 'viewer@example.com', 'Vera Viewer');
    const dev = p.envs[0]!;
    expect((await p.api('PUT', `/projects/${p.project.id}/members/${viewer.id}`, { roles: { [p.prod.id]: ['viewer'] } }))[0]).toBe(200);
    expect((await p.api('GET', `/environments/${p.prod.id}/secrets`, undefined, viewer.token))[0]).toBe(403);
    const [status, viewerBoard] = await p.api<Board>('GET', `/projects/${p.project.id}/board`, undefined, viewer.token);
    expect(status).toBe(200);
    expect(missingOf(viewerBoard)[p.prod.id]).toEqual(['HELPDESK_API_KEY']);
    // DEV is not theirs to read: nothing about it.
    expect(missingOf(viewerBoard)[dev.id]).toEqual([]);
    expect(JSON.stringify(viewerBoard)).not.toContain(VALUE);
  });

  it('REL-12 a Sync into a stage before production is not asked about secrets', async () => {
    const p = await sampleProject();
    const [, board] = await p.api<Board>('GET', `/projects/${p.project.id}/board`);
    // STAGING lacks both, yet the Syncs into it (in sampleProject) passed without confirmation.
    expect(board.stages.find((s) => s.environmentId === p.staging.id)!.missingSecrets).toEqual(SAMPLE_SECRETS);
  });
});

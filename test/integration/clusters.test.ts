import { afterEach, describe, expect, it } from 'vitest';
import type { WorkspaceContent } from '#schema/content/ydoc.ts';
import { SECTIONS } from '#schema/content/spec.ts';
import { apiFixture, type ApiFixture, type Env } from '../helpers/api.ts';

/** Issue 7: a project is a cluster. Nothing crosses projects except an explicit export and import. */
let api: ApiFixture;
afterEach(() => api?.close());

async function project(name: string, sample: boolean) {
  const p = await api.ok<{ id: string; environments: Env[] }>('POST', '/api/projects', { name, sample });
  return { id: p.id, envs: p.environments, dev: p.environments[0]!, prod: p.environments[p.environments.length - 1]! };
}
const ids = (c: WorkspaceContent) => SECTIONS.flatMap((s) => Object.keys(c[s]).map((id) => `${s}/${id}`)).sort();

describe('projects are clusters', () => {
  it('export of a snapshot and import into another project keeps item ids and lists problems; no promotion path crosses projects', async () => {
    api = await apiFixture();
    const a = await project('Cluster A', true);
    const b = await project('Cluster B', false);
    const { snapshotId } = await api.ok<{ snapshotId: string }>('POST', `/api/environments/${a.dev.id}/sync`, {});
    const exported = (await api.ok<{ content: WorkspaceContent }>('GET', `/api/snapshots/${snapshotId}`)).content;

    // Import into B's authoring draft: same item ids, problems listed (none for the sample).
    expect(await api.ok('PUT', `/api/environments/${b.dev.id}/content`, exported)).toEqual({ problems: [] });
    const imported = await api.ok<WorkspaceContent>('GET', `/api/environments/${b.dev.id}/content`);
    expect(ids(imported)).toEqual(ids(exported));
    // A broken reference in an imported file is reported as a problem of B's draft.
    const broken = structuredClone(exported);
    const agent = Object.values(broken.agents)[0]!;
    agent.workflows = ['wf_does_not_exist'];
    const { problems } = await api.ok<{ problems: { code: string }[] }>('PUT', `/api/environments/${b.dev.id}/content`, broken);
    expect(problems.map((p) => p.code)).toContain('reference');

    // Nothing of A can be moved into B's pipeline by any promotion path.
    const bTest = b.envs[1]!.id;
    expect((await api.call('POST', `/api/environments/${bTest}/rollback`, { snapshotId }))[0]).toBe(409);
    expect((await api.call('POST', `/api/environments/${b.prod.id}/rollback`, { snapshotId, pointer: 'live' }))[0]).toBe(409);
    expect((await api.call('GET', `/api/diff?from=env:${a.envs[1]!.id}&to=env:${bTest}`))[0]).toBe(400);
    const bEnvs = (await api.ok<{ environments: Env[] }>('GET', `/api/projects/${b.id}`)).environments;
    expect(bEnvs.every((e) => e.snapshotId === null)).toBe(true);
  });

  it('the board warns when a lower environment holds the same credential value as production, by name only', async () => {
    api = await apiFixture();
    const p = await project('Credentials', false);
    const uat = p.envs[2]!;
    const secret = 'sk_live_51Hxyz-super-secret';
    await api.ok('PUT', `/api/environments/${p.prod.id}/secrets/ORDERS_API_TOKEN`, { value: secret });
    await api.ok('PUT', `/api/environments/${uat.id}/secrets/ORDERS_TOKEN`, { value: 'sk_test_other' });
    type Board = { sharedCredentials: { environmentId: string; name: string; productionName: string }[] };
    expect((await api.ok<Board>('GET', `/api/projects/${p.id}/board`)).sharedCredentials).toEqual([]);

    await api.ok('PUT', `/api/environments/${uat.id}/secrets/ORDERS_TOKEN`, { value: secret });
    const [, raw] = await api.call<Board>('GET', `/api/projects/${p.id}/board`);
    expect(raw.sharedCredentials).toEqual([{ environmentId: uat.id, name: 'ORDERS_TOKEN', productionName: 'ORDERS_API_TOKEN' }]);
    expect(JSON.stringify(raw)).not.toContain(secret);

    await api.ok('PUT', `/api/environments/${uat.id}/secrets/ORDERS_TOKEN`, { value: 'sk_test_own' });
    expect((await api.ok<Board>('GET', `/api/projects/${p.id}/board`)).sharedCredentials).toEqual([]);
  });
});

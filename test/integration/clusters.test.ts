import { afterEach, describe, expect, it } from 'vitest';
import type { WorkspaceContent } from '#schema/content/ydoc.ts';
import { SECTIONS } from '#schema/content/spec.ts';
import { inProcessInstance, type Env, type Instance } from '../helpers/fixture.ts';

/** FLOW-9: a project is a cluster. Nothing crosses projects except an explicit export and import. */
let api: Instance;
afterEach(() => api?.close());

async function project(name: string, sample: boolean) {
  const p = await api.ok<{ id: string; environments: Env[] }>('POST', '/api/projects', {
    name,
    sample,
  });
  return {
    id: p.id,
    envs: p.environments,
    dev: p.environments[0]!,
    prod: p.environments[p.environments.length - 1]!,
  };
}
const ids = (c: WorkspaceContent) =>
  SECTIONS.flatMap((s) => Object.keys(c[s]).map((id) => `${s}/${id}`)).sort();

describe('projects are clusters', () => {
  it('[FLOW-9] export of a snapshot and import into another project keeps item ids and lists problems; no promotion path crosses projects', async () => {
    api = await inProcessInstance();
    const a = await project('Cluster A', true);
    const b = await project('Cluster B', false);
    const { snapshotId } = await api.ok<{ snapshotId: string }>(
      'POST',
      `/api/environments/${a.dev.id}/sync`,
      {},
    );
    const exported = (
      await api.ok<{ content: WorkspaceContent }>('GET', `/api/snapshots/${snapshotId}`)
    ).content;

    // Import into B's authoring draft: same item ids, problems listed (none for the sample).
    expect(await api.ok('PUT', `/api/environments/${b.dev.id}/content`, exported)).toEqual({
      problems: [],
    });
    const imported = await api.ok<WorkspaceContent>('GET', `/api/environments/${b.dev.id}/content`);
    expect(ids(imported)).toEqual(ids(exported));
    // A broken reference in an imported file is reported as a problem of B's draft.
    const broken = structuredClone(exported);
    const agent = Object.values(broken.agents)[0]!;
    agent.workflows = ['wf_does_not_exist'];
    const { problems } = await api.ok<{ problems: { code: string }[] }>(
      'PUT',
      `/api/environments/${b.dev.id}/content`,
      broken,
    );
    expect(problems.map((p) => p.code)).toContain('reference');

    // Nothing of A can be moved into B's pipeline by any promotion path.
    const bTest = b.envs[1]!.id;
    expect(
      (await api.call('POST', `/api/environments/${bTest}/rollback`, { snapshotId })).status,
    ).toBe(409);
    expect(
      (
        await api.call('POST', `/api/environments/${b.prod.id}/rollback`, {
          snapshotId,
          pointer: 'live',
        })
      ).status,
    ).toBe(409);
    expect(
      (await api.call('GET', `/api/diff?from=env:${a.envs[1]!.id}&to=env:${bTest}`)).status,
    ).toBe(400);
    const bEnvs = (await api.ok<{ environments: Env[] }>('GET', `/api/projects/${b.id}`))
      .environments;
    expect(bEnvs.every((e) => e.snapshotId === null)).toBe(true);
    // Nor by a pull between two clusters' knowledge.
    const d = await api.ok<{ environments: Env[] }>('POST', '/api/projects', {
      name: 'Cluster D',
      preset: 'three-stage',
      sample: true,
    });
    const e = await api.ok<{ environments: Env[] }>('POST', '/api/projects', {
      name: 'Cluster E',
      preset: 'three-stage',
      sample: true,
    });
    const { status, body } = await api.call<{ error: { message: string } }>(
      'POST',
      `/api/environments/${d.environments[2]!.id}/pull`,
      { fromEnvironmentId: e.environments[1]!.id, section: 'knowledge', itemIds: ['kb_1'] },
    );
    expect([status, body.error.message]).toEqual([
      400,
      'Pulls never cross projects: export a snapshot and import it instead.',
    ]);
  });

  it('the board warns when a lower environment holds the same credential value as production, by name only', async () => {
    api = await inProcessInstance();
    const p = await project('Credentials', false);
    const uat = p.envs[2]!;
    const secret = 'sk_live_51Hxyz-super-secret';
    await api.ok('PUT', `/api/environments/${p.prod.id}/secrets/ORDERS_API_TOKEN`, {
      value: secret,
    });
    await api.ok('PUT', `/api/environments/${uat.id}/secrets/ORDERS_TOKEN`, {
      value: 'sk_test_other',
    });
    type Board = {
      sharedCredentials: { environmentId: string; name: string; productionName: string }[];
    };
    expect((await api.ok<Board>('GET', `/api/projects/${p.id}/board`)).sharedCredentials).toEqual(
      [],
    );

    await api.ok('PUT', `/api/environments/${uat.id}/secrets/ORDERS_TOKEN`, { value: secret });
    const { body: raw } = await api.call<Board>('GET', `/api/projects/${p.id}/board`);
    expect(raw.sharedCredentials).toEqual([
      { environmentId: uat.id, name: 'ORDERS_TOKEN', productionName: 'ORDERS_API_TOKEN' },
    ]);
    expect(JSON.stringify(raw)).not.toContain(secret);

    await api.ok('PUT', `/api/environments/${uat.id}/secrets/ORDERS_TOKEN`, {
      value: 'sk_test_own',
    });
    expect((await api.ok<Board>('GET', `/api/projects/${p.id}/board`)).sharedCredentials).toEqual(
      [],
    );
  });
});

describe('custom pipelines', () => {
  it('take 2 to 8 stages with names, kinds and colors; the first authors, the last is production', async () => {
    api = await inProcessInstance();
    const stage = (name: string, kind = 'custom', color = '#0d9488') => ({ name, kind, color });
    const two = await api.ok<{
      preset: string;
      environments: (Env & { kind: string; color: string; position: number; draftId?: string })[];
    }>('POST', '/api/projects', {
      name: 'Two',
      preset: 'custom',
      stages: [stage('Author', 'dev', '#2563eb'), stage('Live', 'production', '#dc2626')],
    });
    expect(two.preset).toBe('custom');
    expect(two.environments.map((e) => [e.name, e.kind, e.color, e.position])).toEqual([
      ['Author', 'dev', '#2563eb', 0],
      ['Live', 'production', '#dc2626', 1],
    ]);
    expect(two.environments[0]!.draftId).toMatch(/^dft_/);
    await api.ok('PUT', `/api/environments/${two.environments[0]!.id}/content`, {
      agents: {},
      workflows: {},
      knowledge: {},
      integrations: {},
      channels: {},
      variables: {},
    });
    await api.ok('POST', `/api/environments/${two.environments[0]!.id}/sync`, {});
    await api.ok('POST', `/api/environments/${two.environments[1]!.id}/publish`, {});

    // The project admin renames and recolors a stage later; names stay distinct.
    const renamed = await api.ok<{ environments: { name: string; color: string }[] }>(
      'PATCH',
      `/api/environments/${two.environments[1]!.id}`,
      { name: 'Production', color: '#b91c1c' },
    );
    expect(renamed.environments[1]).toMatchObject({ name: 'Production', color: '#b91c1c' });
    expect(
      (await api.call('PATCH', `/api/environments/${two.environments[1]!.id}`, { name: 'author' }))
        .status,
    ).toBe(400);
    expect(
      (await api.call('PATCH', `/api/environments/${two.environments[1]!.id}`, { color: 'blue' }))
        .status,
    ).toBe(400);
    expect(
      (await api.call('PATCH', `/api/environments/${two.environments[1]!.id}`, {})).status,
    ).toBe(400);
    const eight = await api.ok<{ environments: Env[] }>('POST', '/api/projects', {
      name: 'Eight',
      preset: 'custom',
      stages: Array.from({ length: 8 }, (_, i) => stage(`S${i + 1}`)),
    });
    expect(eight.environments).toHaveLength(8);
    for (const bad of [
      { preset: 'custom', stages: [stage('Only')] },
      { preset: 'custom', stages: Array.from({ length: 9 }, (_, i) => stage(`S${i + 1}`)) },
      { preset: 'custom', stages: [stage('Same'), stage('same')] },
      { preset: 'custom', stages: [stage('A'), { name: 'B', kind: 'weird', color: '#000000' }] },
      { preset: 'custom', stages: [stage('A'), stage('B', 'custom', 'red')] },
      { preset: 'custom' },
      { preset: 'five-stage', stages: [stage('A'), stage('B')] },
    ]) {
      const { status, body } = await api.call<{ error: { id: string } }>('POST', '/api/projects', {
        name: 'Bad',
        ...bad,
      });
      expect([status, body.error.id], JSON.stringify(bad)).toEqual([400, 'invalid_body']);
    }
  });
  it('[R5] the same content in two projects has one snapshot id, and each project reads and diffs its own', async () => {
    api = await inProcessInstance();
    const a = await project('Twin A', true);
    const b = await project('Twin B', true);
    const first = (
      await api.ok<{ snapshotId: string }>('POST', `/api/environments/${a.dev.id}/sync`, {})
    ).snapshotId;
    const second = (
      await api.ok<{ snapshotId: string }>('POST', `/api/environments/${b.dev.id}/sync`, {})
    ).snapshotId;
    expect(second).toBe(first);
    expect(
      (await api.ok<{ projectId: string }>('GET', `/api/snapshots/${first}?project=${b.id}`))
        .projectId,
    ).toBe(b.id);
    expect(
      (await api.ok<{ projectId: string }>('GET', `/api/snapshots/${first}?project=${a.id}`))
        .projectId,
    ).toBe(a.id);
    // A diff of snapshot sides in B, and one mixing B's environment with the shared id, stay in B.
    const d1 = await api.ok<{ from: { projectId: string } }>(
      'GET',
      `/api/diff?project=${b.id}&from=snapshot:${first}&to=snapshot:${second}`,
    );
    const d2 = await api.ok<{ from: { projectId: string }; to: { projectId: string } }>(
      'GET',
      `/api/diff?from=env:${b.envs[1]!.id}&to=snapshot:${first}`,
    );
    expect([d1.from.projectId, d2.from.projectId, d2.to.projectId]).toEqual([b.id, b.id, b.id]);
    // A snapshot another project does not hold is not found there.
    const c = await project('Empty C', false);
    expect((await api.call('GET', `/api/snapshots/${first}?project=${c.id}`)).status).toBe(404);
  });
});

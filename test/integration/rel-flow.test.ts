import { describe, expect, it } from 'vitest';
import { itemText, sectionMap } from '#schema/content/ydoc.ts';
import type { ProjectView } from '#schema/api.ts';
import { connect, synced, until } from '../helpers/clients.ts';
import { setupAdmin, startTestServer } from '../helpers/server.ts';
import { overTheWire } from '../helpers/fixture.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';

/**
 * REL-6: a `down` section flows from Production without phantom conflicts. The delay
 * is long enough that the first edit lands in the same batch as the project's first
 * replication, as when someone edits right after creating or importing.
 */
const DELAY_MS = 1000;
const cleanup = cleanupAfterEach();

type Knowledge = { knowledge: Record<string, { title: string; body: string }> };
type Conflicts = {
  conflicts: {
    itemId: string;
    upstream: { body: string } | null;
    local: { body: string } | null;
  }[];
};

async function threeStage(sample: boolean) {
  const server = await startTestServer(undefined, { REPLICATION_DELAY_MS: String(DELAY_MS) });
  cleanup.push(() => server.close());
  const admin = await setupAdmin(server.url);
  const api = overTheWire(server.url, admin.token);
  const { status, body: project } = await api.call<ProjectView>('POST', '/api/projects', {
    name: 'Support',
    preset: 'three-stage',
    sample,
  });
  expect(status).toBe(201);
  const [staging, uat, production] = project.environments;
  const bodyIn = async (envId: string, id: string) =>
    (await api.call<Knowledge>('GET', `/api/environments/${envId}/content`)).body.knowledge[id]
      ?.body;
  const conflicts = async (envId: string) =>
    (await api.call<Conflicts>('GET', `/api/environments/${envId}/conflicts`)).body.conflicts;
  const editor = async (draftId: string) => {
    const c = connect(server.url, draftId, { token: admin.token });
    cleanup.push(() => c.destroy());
    await synced(c);
    return c;
  };
  return { api, staging: staging!, uat: uat!, production: production!, bodyIn, conflicts, editor };
}

const within = { timeout: DELAY_MS + 5000 };

describe('REL-6 knowledge flows down without phantom conflicts', () => {
  it('REL-6 [FLOW-5] a fresh three-stage sample project: one edit of a sample article in Production reaches UAT and Staging, no conflict', async () => {
    const { staging, uat, production, bodyIn, conflicts, editor } = await threeStage(true);
    const inProduction = await editor(production.draftId!);
    await until(inProduction.doc, (d) => sectionMap(d, 'knowledge').has('kb_shipping'));
    itemText(sectionMap(inProduction.doc, 'knowledge').get('kb_shipping'), 'body')!.insert(
      0,
      'Updated in Production. ',
    );

    await expect
      .poll(() => bodyIn(uat.id, 'kb_shipping'), within)
      .toMatch(/^Updated in Production\. /);
    await expect
      .poll(() => bodyIn(staging.id, 'kb_shipping'), within)
      .toMatch(/^Updated in Production\. /);
    expect(await conflicts(uat.id)).toEqual([]);
    expect(await conflicts(staging.id)).toEqual([]);
  });

  it('REL-6 [FLOW-5] an article imported into Production, then edited there, flows down; the same file imported into UAT too is no conflict', async () => {
    const { api, staging, uat, production, bodyIn, conflicts, editor } = await threeStage(false);
    const file = {
      knowledge: {
        kb_hours: { title: 'Opening hours', body: 'Nine to five.', tags: [], audiences: [] },
      },
    };
    // A team seeds both stages that edit knowledge from one file, then corrects it in Production.
    expect((await api.call('PUT', `/api/environments/${uat.id}/content`, file)).status).toBe(200);
    expect((await api.call('PUT', `/api/environments/${production.id}/content`, file)).status).toBe(
      200,
    );
    const inProduction = await editor(production.draftId!);
    await until(inProduction.doc, (d) => sectionMap(d, 'knowledge').has('kb_hours'));
    itemText(sectionMap(inProduction.doc, 'knowledge').get('kb_hours'), 'body')!.insert(
      0,
      'Mon–Fri: ',
    );

    await expect.poll(() => bodyIn(uat.id, 'kb_hours'), within).toBe('Mon–Fri: Nine to five.');
    await expect.poll(() => bodyIn(staging.id, 'kb_hours'), within).toBe('Mon–Fri: Nine to five.');
    expect(await conflicts(uat.id)).toEqual([]);
  });

  it('REL-6 [FLOW-5] [FLOW-8] after the rules change to move knowledge down from Production, the first edit of an article every stage holds flows down, no conflict', async () => {
    const server = await startTestServer(undefined, { REPLICATION_DELAY_MS: String(DELAY_MS) });
    cleanup.push(() => server.close());
    const admin = await setupAdmin(server.url);
    const api = overTheWire(server.url, admin.token);
    const { body: project } = await api.call<ProjectView>('POST', '/api/projects', {
      name: 'Support',
      preset: 'five-stage',
      sample: true,
    });
    const envs = project.environments;
    for (const e of envs.slice(0, 4))
      expect(
        (await api.call('POST', `/api/environments/${e.id}/sync`, { confirmMissingSecrets: true }))
          .status,
      ).toBe(200);
    const { status, body: changed } = await api.call<ProjectView>(
      'PUT',
      `/api/projects/${project.id}/flow-rules`,
      {
        flowRules: { knowledge: { direction: 'down', source: 'PRODUCTION', editableIn: ['UAT'] } },
      },
    );
    expect(status).toBe(200);
    const [, , uat, , production] = changed.environments;
    const inProduction = connect(server.url, production!.draftId!, { token: admin.token });
    cleanup.push(() => inProduction.destroy());
    await synced(inProduction);
    await until(inProduction.doc, (d) => sectionMap(d, 'knowledge').has('kb_returns'));
    itemText(sectionMap(inProduction.doc, 'knowledge').get('kb_returns'), 'body')!.insert(
      0,
      'Updated in Production. ',
    );

    const bodyIn = async (envId: string) =>
      (await api.call<Knowledge>('GET', `/api/environments/${envId}/content`)).body.knowledge
        .kb_returns?.body;
    for (const e of changed.environments.slice(0, 4))
      await expect.poll(() => bodyIn(e.id), within).toMatch(/^Updated in Production\. /);
    expect(
      (await api.call<Conflicts>('GET', `/api/environments/${uat!.id}/conflicts`)).body.conflicts,
    ).toEqual([]);
  });

  it('REL-6 [FLOW-5] a sample article changed in both UAT and Production is still a conflict: UAT keeps its version', async () => {
    const { uat, production, bodyIn, conflicts, editor } = await threeStage(true);
    const inUat = await editor(uat.draftId!);
    await until(inUat.doc, (d) => sectionMap(d, 'knowledge').has('kb_shipping'));
    itemText(sectionMap(inUat.doc, 'knowledge').get('kb_shipping'), 'body')!.insert(0, 'UAT: ');
    const inProduction = await editor(production.draftId!);
    await until(inProduction.doc, (d) => sectionMap(d, 'knowledge').has('kb_shipping'));
    itemText(sectionMap(inProduction.doc, 'knowledge').get('kb_shipping'), 'body')!.insert(
      0,
      'Production: ',
    );

    await expect
      .poll(async () => (await conflicts(uat.id)).map((c) => c.itemId), within)
      .toEqual(['kb_shipping']);
    const [conflict] = await conflicts(uat.id);
    expect(conflict!.upstream!.body).toMatch(/^Production: /);
    expect(conflict!.local!.body).toMatch(/^UAT: /);
    expect(await bodyIn(uat.id, 'kb_shipping')).toMatch(/^UAT: /);
  });
});

import { describe, expect, it } from 'vitest';
import { addItem, itemText, sectionMap } from '#schema/content/ydoc.ts';
import { CLOSE } from '#schema/errors.ts';
import type { ProjectView } from '#schema/api.ts';
import { SECTIONS } from '#schema/content/spec.ts';
import { connect, synced, until, type Client } from '../helpers/clients.ts';
import { overTheWire, type Client as ApiClient } from '../helpers/fixture.ts';
import { setupAdmin, startTestServer } from '../helpers/server.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';

/**
 * FLOW-1 … FLOW-8: flow rules. The three-stage preset: knowledge flows down from Production;
 * everything else up from Staging.
 */
const cleanup = cleanupAfterEach();

async function setup(preset: string, sample = false) {
  const server = await startTestServer(undefined, { REPLICATION_DELAY_MS: '10' });
  cleanup.push(() => server.close());
  const admin = await setupAdmin(server.url);
  const api = overTheWire(server.url, admin.token);
  const { body: project } = await api.call<ProjectView>('POST', '/api/projects', {
    name: 'Cluster',
    preset,
    sample,
  });
  const client = (draftId: string): Client => {
    const c = connect(server.url, draftId, { token: admin.token });
    cleanup.push(() => c.destroy());
    return c;
  };
  return { server, api, project, client };
}

const closeCode = (c: Client) =>
  new Promise<number>((resolve) =>
    c.provider.once('connection-close', (e) => resolve(e?.code ?? 0)),
  );

describe('flow rules', () => {
  /** GET /api/projects/:id of a fresh project of `preset`. */
  const projectOf = async (preset: string) => {
    const { api, project } = await setup(preset);
    return (await api.call<ProjectView>('GET', `/api/projects/${project.id}`)).body;
  };

  it('[FLOW-1] GET /api/projects/:id has every section’s rule: all up in five stages; knowledge down from Production (edited in UAT too) in three', async () => {
    const p5 = await projectOf('five-stage');
    expect(Object.values(p5.flowRules).every((r) => r.direction === 'up')).toBe(true);

    const p3 = await projectOf('three-stage');
    const [, uat, production] = p3.environments;
    expect(p3.flowRules.knowledge).toEqual({
      direction: 'down',
      sourceEnvId: production!.id,
      editableEnvIds: [production!.id, uat!.id],
    });
    for (const s of SECTIONS.filter((x) => x !== 'knowledge'))
      expect(p3.flowRules[s]).toEqual({ direction: 'up' });
  });

  it('[FLOW-2] GET /api/projects/:id names, per environment with an editable draft, its draftId and the sections that draft owns', async () => {
    const p5 = await projectOf('five-stage');
    expect(p5.environments[0]).toMatchObject({
      draftId: expect.stringMatching(/^dft_/),
      draftSections: [...SECTIONS],
    });
    expect(p5.environments.slice(1).every((e) => e.draftId === undefined)).toBe(true);

    const p3 = await projectOf('three-stage');
    const [staging, uat, production] = p3.environments;
    expect(staging!.draftSections).toEqual(SECTIONS.filter((x) => x !== 'knowledge'));
    expect(uat).toMatchObject({
      draftId: expect.stringMatching(/^dft_/),
      draftSections: ['knowledge'],
    });
    expect(production).toMatchObject({
      draftId: expect.stringMatching(/^dft_/),
      draftSections: ['knowledge'],
    });
    expect(new Set([staging!.draftId, uat!.draftId, production!.draftId]).size).toBe(3);
  });

  it('[FLOW-2] [R1] a section a draft does not own is read-only on the websocket (refused whole, 4403) and over HTTP (409), and nothing changes', async () => {
    const { api, project, client } = await setup('three-stage');
    const [staging, uat] = project.environments;

    // Staging: agents are its own; knowledge is not.
    const editor = client(staging!.draftId!);
    await synced(editor);
    const agentId = addItem(editor.doc, 'agents', { name: 'Order bot' });
    await expect
      .poll(async () =>
        Object.keys(
          (await api.call<{ agents: object }>('GET', `/api/environments/${staging!.id}/content`))
            .body.agents,
        ),
      )
      .toEqual([agentId]);
    const refused = closeCode(editor);
    editor.doc.transact(() => {
      addItem(editor.doc, 'agents', { name: 'Sneaky agent' });
      addItem(editor.doc, 'knowledge', { title: 'Sneaky article', body: 'Written in Staging.' });
    });
    expect(await refused).toBe(CLOSE.read_only);
    const { body: after } = await api.call<{ agents: object; knowledge: object }>(
      'GET',
      `/api/environments/${staging!.id}/content`,
    );
    expect(Object.keys(after.agents)).toEqual([agentId]);
    expect(after.knowledge).toEqual({});

    // UAT's own draft: knowledge only.
    const uatEditor = client(uat!.draftId!);
    await synced(uatEditor);
    const articleId = addItem(uatEditor.doc, 'knowledge', {
      title: 'Returns',
      body: 'Thirty days.',
    });
    await expect
      .poll(async () =>
        Object.keys(
          (await api.call<{ knowledge: object }>('GET', `/api/environments/${uat!.id}/content`))
            .body.knowledge,
        ),
      )
      .toEqual([articleId]);
    const refusedInUat = closeCode(uatEditor);
    addItem(uatEditor.doc, 'agents', { name: 'Agent written in UAT' });
    expect(await refusedInUat).toBe(CLOSE.read_only);
    expect(
      (await api.call<{ agents: object }>('GET', `/api/environments/${uat!.id}/content`)).body
        .agents,
    ).toEqual({});

    // HTTP: a file with knowledge cannot go into Staging; knowledge alone can go into UAT.
    const file = {
      agents: {},
      workflows: {},
      knowledge: { kb_1: { title: 'Shipping', body: 'Two days.', tags: [], audiences: [] } },
      integrations: {},
      channels: {},
      variables: {},
    };
    const { status, body } = await api.call<{
      error: { id: string; details: { sections: string[] } };
    }>('PUT', `/api/environments/${staging!.id}/content`, file);
    expect([status, body.error.id, body.error.details.sections]).toEqual([
      409,
      'section_read_only',
      ['knowledge'],
    ]);
    expect(
      (
        await api.call('PUT', `/api/environments/${uat!.id}/content`, {
          ...file,
          agents: { a: { name: 'No' } },
        })
      ).status,
    ).toBe(409);
    expect((await api.call('PUT', `/api/environments/${uat!.id}/content`, file)).status).toBe(200);
    const { body: uatContent } = await api.call<{ knowledge: Record<string, { title: string }> }>(
      'GET',
      `/api/environments/${uat!.id}/content`,
    );
    expect(Object.values(uatContent.knowledge).map((a) => a.title)).toEqual(['Shipping']);
  });

  it('[FLOW-3] a Staging Sync does not carry knowledge: the target keeps its own', async () => {
    const { server, api, project, client } = await setup('three-stage', true);
    const [staging, uat] = project.environments;
    // Knowledge that reached Staging's draft from elsewhere (as replication will put it there).
    await server.rooms.edit(staging!.draftId!, 'test', (doc) =>
      addItem(doc, 'knowledge', { title: 'Only in Staging', body: 'Should not move up.' }),
    );
    // The board counts only what the Sync carries.
    const { body: board } = await api.call<{
      pending: { counts: Record<string, number>; total: number }[];
    }>('GET', `/api/projects/${project.id}/board`);
    expect(board.pending[0]!.counts.knowledge).toBe(0);
    expect(board.pending[0]!.counts.agents).toBeGreaterThan(0);
    type Diff = { diff: { counts: Record<string, number>; total: number } };
    const carried = SECTIONS.filter((x) => x !== 'knowledge').join(',');
    const { body: limited } = await api.call<Diff>(
      'GET',
      `/api/diff?from=env:${uat!.id}&to=env:${staging!.id}&sections=${carried}`,
    );
    expect([limited.diff.counts.knowledge, limited.diff.total]).toEqual([
      0,
      board.pending[0]!.total,
    ]);
    const { status } = await api.call('POST', `/api/environments/${staging!.id}/sync`, {});
    expect(status).toBe(200);
    const { body: p } = await api.call<ProjectView>('GET', `/api/projects/${project.id}`);
    const { body: snapshot } = await api.call<{ content: { agents: object; knowledge: object } }>(
      'GET',
      `/api/snapshots/${p.environments[1]!.snapshotId}`,
    );
    expect(Object.keys(snapshot.content.agents).length).toBeGreaterThan(0);
    // A snapshot carries only the sections that move up.
    expect(snapshot.content.knowledge).toEqual({});
    // UAT shows its own knowledge (from its draft: the sample's articles), not Staging's.
    const uatEditor = client(uat!.draftId!);
    await synced(uatEditor);
    await until(uatEditor.doc, (d) => sectionMap(d, 'knowledge').size > 0);
    const { body: uatContent } = await api.call<{ knowledge: Record<string, { title: string }> }>(
      'GET',
      `/api/environments/${uat!.id}/content`,
    );
    expect(Object.values(uatContent.knowledge).map((a) => a.title)).not.toContain(
      'Only in Staging',
    );
    expect(Object.keys(uatContent.knowledge).length).toBe(
      sectionMap(uatEditor.doc, 'knowledge').size,
    );
  });

  it('[FLOW-4] [FLOW-5] knowledge edited in Production reaches UAT and Staging by itself, read-only in Staging; UAT-only articles survive', async () => {
    const { api, project, client } = await setup('three-stage');
    const [staging, uat, production] = project.environments;
    const titles = async (envId: string) =>
      Object.values(
        (
          await api.call<{ knowledge: Record<string, { title: string }> }>(
            'GET',
            `/api/environments/${envId}/content`,
          )
        ).body.knowledge,
      )
        .map((a) => a.title)
        .sort();

    const inUat = client(uat!.draftId!);
    await synced(inUat);
    addItem(inUat.doc, 'knowledge', { title: 'Being tested in UAT', body: 'Draft text.' });
    const inProduction = client(production!.draftId!);
    await synced(inProduction);
    addItem(inProduction.doc, 'knowledge', { title: 'Opening hours', body: 'Nine to five.' });

    // Replication runs as a job after the drafts are stored: on PostgreSQL each append is a round
    // trip, so the default 1 s poll is too short on a busy machine.
    const replicated = { timeout: 10_000 };
    await expect
      .poll(() => titles(uat!.id), replicated)
      .toEqual(['Being tested in UAT', 'Opening hours']);
    await expect
      .poll(() => titles(staging!.id), replicated)
      .toEqual(['Being tested in UAT', 'Opening hours']);
    expect(await titles(production!.id)).toEqual(['Opening hours']);
    // Recorded in each receiving environment's history as `replicate`, moving no pointer.
    type History = {
      history: { kind: string; pointer: string; sourceEnvironmentId: string; message: string }[];
    };
    const { body: uatHistory } = await api.call<History>(
      'GET',
      `/api/environments/${uat!.id}/history`,
    );
    expect(uatHistory.history[0]).toMatchObject({
      kind: 'replicate',
      pointer: 'section',
      sourceEnvironmentId: production!.id,
      message: '1 article from Production',
    });
    // Staging's record comes with the second hop's job (UAT → Staging), which may commit after
    // Staging already shows the article: polled, as the titles are.
    await expect
      .poll(
        async () =>
          (
            await api.call<History>('GET', `/api/environments/${staging!.id}/history`)
          ).body.history.some((h) => h.kind === 'replicate' && h.sourceEnvironmentId === uat!.id),
        replicated,
      )
      .toBe(true);
    const { body: after } = await api.call<ProjectView>('GET', `/api/projects/${project.id}`);
    expect(after.environments.map((e) => e.snapshotId)).toEqual([null, null, null]);

    // Read-only in Staging over the websocket: a change to the replicated article is refused whole.
    const inStaging = client(staging!.draftId!);
    await synced(inStaging);
    await until(inStaging.doc, (d) => sectionMap(d, 'knowledge').size === 2);
    const refused = closeCode(inStaging);
    const [article] = [...sectionMap(inStaging.doc, 'knowledge').values()];
    itemText(article, 'body')!.insert(0, 'Changed in Staging. ');
    expect(await refused).toBe(CLOSE.read_only);
    expect(await titles(staging!.id)).toEqual(['Being tested in UAT', 'Opening hours']);
  });

  it('[FLOW-5] an article changed in both UAT and Production since the last replication is a conflict: UAT keeps its version until someone resolves it', async () => {
    const { api, project, client } = await setup('three-stage');
    const [, uat, production] = project.environments;
    const inProduction = client(production!.draftId!);
    await synced(inProduction);
    const id = addItem(inProduction.doc, 'knowledge', {
      title: 'Refunds',
      body: 'Within 30 days.',
    });
    const bodyIn = async (envId: string) =>
      (
        await api.call<{ knowledge: Record<string, { body: string }> }>(
          'GET',
          `/api/environments/${envId}/content`,
        )
      ).body.knowledge[id]?.body;
    await expect.poll(() => bodyIn(uat!.id)).toBe('Within 30 days.');

    const inUat = client(uat!.draftId!);
    await synced(inUat);
    await until(inUat.doc, (d) => sectionMap(d, 'knowledge').has(id));
    itemText(sectionMap(inUat.doc, 'knowledge').get(id), 'body')!.insert(0, 'UAT: ');
    await expect.poll(() => bodyIn(uat!.id)).toBe('UAT: Within 30 days.');
    itemText(sectionMap(inProduction.doc, 'knowledge').get(id), 'body')!.insert(0, 'Production: ');

    type Conflicts = {
      conflicts: {
        section: string;
        itemId: string;
        name: string;
        upstream: { body: string } | null;
        local: { body: string } | null;
      }[];
    };
    await expect
      .poll(
        async () =>
          (await api.call<Conflicts>('GET', `/api/environments/${uat!.id}/conflicts`)).body
            .conflicts.length,
      )
      .toBe(1);
    const {
      body: { conflicts },
    } = await api.call<Conflicts>('GET', `/api/environments/${uat!.id}/conflicts`);
    expect(conflicts[0]).toMatchObject({
      section: 'knowledge',
      itemId: id,
      name: 'Refunds',
      upstream: { body: 'Production: Within 30 days.' },
      local: { body: 'UAT: Within 30 days.' },
    });
    expect(await bodyIn(uat!.id)).toBe('UAT: Within 30 days.');

    const { status, body: resolved } = await api.call<Conflicts>(
      'POST',
      `/api/environments/${uat!.id}/conflicts/resolve`,
      { section: 'knowledge', itemId: id, take: 'upstream' },
    );
    expect([status, resolved.conflicts]).toEqual([200, []]);
    expect(await bodyIn(uat!.id)).toBe('Production: Within 30 days.');
    // From now on the article follows Production again.
    itemText(sectionMap(inProduction.doc, 'knowledge').get(id), 'body')!.insert(0, 'v3 ');
    await expect.poll(() => bodyIn(uat!.id)).toBe('v3 Production: Within 30 days.');
  });

  it('REL-8 [FLOW-5] a conflict on a long article answers both whole versions: a difference 300 characters in is there to show', async () => {
    const { api, project, client } = await setup('three-stage');
    const [, uat, production] = project.environments;
    const long = `${'Our refund policy covers every order placed online or in a store. '.repeat(5)}Refunds take five working days.`;
    const inProduction = client(production!.draftId!);
    await synced(inProduction);
    const id = addItem(inProduction.doc, 'knowledge', { title: 'Refunds', body: long });
    const inUat = client(uat!.draftId!);
    await synced(inUat);
    await until(inUat.doc, (d) => sectionMap(d, 'knowledge').has(id));
    const at = long.indexOf('five');
    expect(at).toBeGreaterThan(300);
    const edit = (c: Client, word: string) => {
      const body = itemText(sectionMap(c.doc, 'knowledge').get(id), 'body')!;
      c.doc.transact(() => {
        body.delete(at, 'five'.length);
        body.insert(at, word);
      });
    };
    edit(inUat, 'three');
    const bodyIn = async (envId: string) =>
      (
        await api.call<{ knowledge: Record<string, { body: string }> }>(
          'GET',
          `/api/environments/${envId}/content`,
        )
      ).body.knowledge[id]?.body;
    await expect.poll(() => bodyIn(uat!.id)).toContain('three working days');
    edit(inProduction, 'ten');

    type Conflicts = {
      conflicts: {
        itemId: string;
        upstream: { body: string } | null;
        local: { body: string } | null;
      }[];
    };
    await expect
      .poll(
        async () =>
          (await api.call<Conflicts>('GET', `/api/environments/${uat!.id}/conflicts`)).body
            .conflicts.length,
      )
      .toBe(1);
    const {
      body: { conflicts },
    } = await api.call<Conflicts>('GET', `/api/environments/${uat!.id}/conflicts`);
    expect(conflicts[0]!.upstream!.body).toBe(long.replace('five working', 'ten working'));
    expect(conflicts[0]!.local!.body).toBe(long.replace('five working', 'three working'));
  });

  it('[FLOW-3] the delivery API serves knowledge live from the environment that edits it, and its ETag follows changes there', async () => {
    const { server, api, project, client } = await setup('three-stage', true);
    const [staging, uat, production] = project.environments;
    expect((await api.call('POST', `/api/environments/${staging!.id}/sync`, {})).status).toBe(200);
    expect(
      (await api.call('POST', `/api/environments/${uat!.id}/sync`, { confirmMissingSecrets: true }))
        .status,
    ).toBe(200);
    expect(
      (
        await api.call('POST', `/api/environments/${production!.id}/publish`, {
          confirmMissingSecrets: true,
        })
      ).status,
    ).toBe(200);
    const {
      body: { key },
    } = await api.call<{ key: string }>(
      'POST',
      `/api/environments/${production!.id}/runtime-keys`,
      { name: 'runtime' },
    );
    const get = (etag?: string) =>
      fetch(`${server.url}/api/delivery/${production!.id}`, {
        headers: { authorization: `Bearer ${key}`, ...(etag ? { 'if-none-match': etag } : {}) },
      });
    const first = await get();
    const etag = first.headers.get('etag')!;
    const body = (await first.json()) as {
      content: { knowledge: Record<string, { title: string }>; agents: object };
    };
    expect(Object.keys(body.content.agents).length).toBeGreaterThan(0);
    const titles = Object.values(body.content.knowledge).map((a) => a.title);
    expect(titles.length).toBeGreaterThan(0);
    expect((await get(etag)).status).toBe(304);

    const inProduction = client(production!.draftId!);
    await synced(inProduction);
    addItem(inProduction.doc, 'knowledge', { title: 'Holiday hours', body: 'Closed on the 25th.' });
    await expect.poll(async () => (await get(etag)).status).toBe(200);
    const next = (await (await get()).json()) as {
      content: { knowledge: Record<string, { title: string }> };
    };
    expect(Object.values(next.content.knowledge).map((a) => a.title)).toContain('Holiday hours');

    // A hotfix in Production changes the promoted sections only: knowledge has its own draft.
    const { status: hotfixStatus, body: hotfix } = await api.call<{ draftId: string }>(
      'POST',
      `/api/environments/${production!.id}/hotfix`,
      {},
    );
    expect(hotfixStatus).toBeLessThan(300);
    const inHotfix = client(hotfix.draftId);
    await synced(inHotfix);
    const refused = closeCode(inHotfix);
    addItem(inHotfix.doc, 'knowledge', { title: 'Through the hotfix', body: 'No.' });
    expect(await refused).toBe(CLOSE.read_only);
  });

  it('[FLOW-6] pulling one article from UAT into Production moves exactly that article, after a preview of just it', async () => {
    const { api, project, client } = await setup('three-stage');
    const [staging, uat, production] = project.environments;
    const inUat = client(uat!.draftId!);
    await synced(inUat);
    const wanted = addItem(inUat.doc, 'knowledge', {
      title: 'Ready for customers',
      body: 'Tested in UAT.',
    });
    addItem(inUat.doc, 'knowledge', { title: 'Still in review', body: 'Not yet.' });
    const titles = async (envId: string) =>
      Object.values(
        (
          await api.call<{ knowledge: Record<string, { title: string }> }>(
            'GET',
            `/api/environments/${envId}/content`,
          )
        ).body.knowledge,
      )
        .map((a) => a.title)
        .sort();
    await expect.poll(() => titles(uat!.id)).toEqual(['Ready for customers', 'Still in review']);

    type Preview = {
      items: { itemId: string; name: string; kind: string; fields: { field: string }[] }[];
    };
    const { body: all } = await api.call<Preview>(
      'GET',
      `/api/environments/${production!.id}/pull?from=${uat!.id}&section=knowledge`,
    );
    expect(all.items.map((i) => i.name).sort()).toEqual(['Ready for customers', 'Still in review']);
    const { body: one } = await api.call<Preview>(
      'GET',
      `/api/environments/${production!.id}/pull?from=${uat!.id}&section=knowledge&items=${wanted}`,
    );
    expect(one.items).toEqual([
      expect.objectContaining({ itemId: wanted, name: 'Ready for customers', kind: 'added' }),
    ]);
    expect(one.items[0]!.fields.map((f) => f.field)).toEqual(
      expect.arrayContaining(['title', 'body']),
    );

    const { status } = await api.call('POST', `/api/environments/${production!.id}/pull`, {
      fromEnvironmentId: uat!.id,
      section: 'knowledge',
      itemIds: [wanted],
    });
    expect(status).toBe(200);
    expect(await titles(production!.id)).toEqual(['Ready for customers']);
    const { body: history } = await api.call<{
      history: { kind: string; sourceEnvironmentId: string; message: string }[];
    }>('GET', `/api/environments/${production!.id}/history`);
    expect(history.history[0]).toMatchObject({
      kind: 'pull',
      sourceEnvironmentId: uat!.id,
      message: 'Pulled 1 article from UAT',
    });
    // Nothing else moved: UAT keeps both, no pointer changed, and after replication UAT has no conflict.
    await expect
      .poll(() => titles(staging!.id))
      .toEqual(['Ready for customers', 'Still in review']);
    expect(await titles(uat!.id)).toEqual(['Ready for customers', 'Still in review']);
    const { body: p } = await api.call<ProjectView>('GET', `/api/projects/${project.id}`);
    expect(p.environments.map((e) => e.snapshotId)).toEqual([null, null, null]);
    expect(
      (await api.call<{ conflicts: unknown[] }>('GET', `/api/environments/${uat!.id}/conflicts`))
        .body.conflicts,
    ).toEqual([]);

    // Pulls go upward only, within the project, for a section that flows down.
    expect(
      (
        await api.call('POST', `/api/environments/${uat!.id}/pull`, {
          fromEnvironmentId: production!.id,
          section: 'knowledge',
          itemIds: [wanted],
        })
      ).status,
    ).toBe(400);
    expect(
      (
        await api.call('POST', `/api/environments/${production!.id}/pull`, {
          fromEnvironmentId: uat!.id,
          section: 'agents',
          itemIds: [wanted],
        })
      ).status,
    ).toBe(400);
    expect(
      (
        await api.call('POST', `/api/environments/${production!.id}/pull`, {
          fromEnvironmentId: uat!.id,
          section: 'knowledge',
          itemIds: ['kb_nope'],
        })
      ).status,
    ).toBe(404);
  });
  type Content = { knowledge: Record<string, { title: string }>; agents: object };
  const titles = (c: { knowledge: Record<string, { title: string }> }) =>
    Object.values(c.knowledge)
      .map((a) => a.title)
      .sort();

  /**
   * A three-stage sample project whose UAT drafted one article of its own, then one Sync moved UAT
   * → Production (Staging's went first).
   */
  async function uatOnlyArticleReleased() {
    const { server, api, project, client } = await setup('three-stage', true);
    const [staging, uat, production] = project.environments;
    // Knowledge flowed down from Production (the sample's articles) before anything was synced.
    const { body: production0 } = await api.call<Content>(
      'GET',
      `/api/environments/${production!.id}/content`,
    );
    await expect
      .poll(async () =>
        titles((await api.call<Content>('GET', `/api/environments/${uat!.id}/content`)).body),
      )
      .toEqual(titles(production0));
    const inUat = client(uat!.draftId!);
    await synced(inUat);
    addItem(inUat.doc, 'knowledge', { title: 'UAT only', body: 'Being tried.' });
    await expect
      .poll(async () =>
        titles((await api.call<Content>('GET', `/api/environments/${uat!.id}/content`)).body),
      )
      .toContain('UAT only');

    expect((await api.call('POST', `/api/environments/${staging!.id}/sync`, {})).status).toBe(200);
    expect(
      (await api.call('POST', `/api/environments/${uat!.id}/sync`, { confirmMissingSecrets: true }))
        .status,
    ).toBe(200);
    const { body: p } = await api.call<ProjectView>('GET', `/api/projects/${project.id}`);
    const { body: uatNow } = await api.call<Content>('GET', `/api/environments/${uat!.id}/content`);
    const wanted = Object.entries(uatNow.knowledge).find(([, a]) => a.title === 'UAT only')![0];
    return {
      server,
      api,
      client,
      p,
      staging: staging!,
      uat: uat!,
      production: production!,
      production0,
      uatNow,
      wanted,
      snapshotId: p.environments[2]!.snapshotId!,
    };
  }

  /** The `kind` record of an environment's history, opened as a diff: its total and its items. */
  const changesOf = (api: ApiClient) => async (envId: string, kind: string) => {
    type History = {
      history: { kind: string; fromSnapshotId: string | null; toSnapshotId: string }[];
    };
    const record = (
      await api.call<History>('GET', `/api/environments/${envId}/history`)
    ).body.history.find((h) => h.kind === kind);
    if (!record) return null;
    const { body: d } = await api.call<{
      diff: { total: number; sections: Record<string, { id: string; kind: string }[]> };
    }>(
      'GET',
      `/api/diff?from=snapshot:${record.fromSnapshotId}&to=snapshot:${record.toSnapshotId}`,
    );
    return {
      total: d.diff.total,
      items: Object.entries(d.diff.sections).flatMap(([section, items]) =>
        items.map((i) => `${section}/${i.id}/${i.kind}`),
      ),
    };
  };

  it('[FLOW-3] a snapshot carries no knowledge: after a Sync UAT → Production each shows its promoted up sections plus the knowledge it holds', async () => {
    const { api, p, production, production0, uatNow, snapshotId } = await uatOnlyArticleReleased();
    // One snapshot moved UAT → Production, and it holds no knowledge: each environment has its own.
    expect(p.environments[1]!.snapshotId).toBe(snapshotId);
    expect(
      (await api.call<{ content: Content }>('GET', `/api/snapshots/${snapshotId}`)).body.content
        .knowledge,
    ).toEqual({});
    const { body: productionNow } = await api.call<Content>(
      'GET',
      `/api/environments/${production.id}/content`,
    );
    expect(Object.keys(productionNow.agents).length).toBeGreaterThan(0);
    expect(titles(uatNow)).toEqual([...titles(production0), 'UAT only'].sort());
    expect(titles(productionNow)).toEqual(titles(production0));
  });

  it('[FLOW-3] content asked by snapshot id, the diff between two environments and a share link compose an environment the same way', async () => {
    const { server, api, uat, production, uatNow, snapshotId } = await uatOnlyArticleReleased();
    // The same snapshot in place, asked by id: the same composition.
    expect(
      titles(
        (
          await api.call<Content>(
            'GET',
            `/api/environments/${uat.id}/content?snapshot=${snapshotId}`,
          )
        ).body,
      ),
    ).toEqual(titles(uatNow));
    expect(
      (await api.call('GET', `/api/environments/${uat.id}/content?snapshot=nope`)).status,
    ).toBe(404);

    // The diff between the two environments shows the one article only UAT has.
    type Diff = { diff: { counts: Record<string, number>; total: number } };
    const { body: diff } = await api.call<Diff>(
      'GET',
      `/api/diff?from=env:${production.id}&to=env:${uat.id}`,
    );
    expect([diff.diff.counts.knowledge, diff.diff.total]).toEqual([1, 1]);
    // A stakeholder's share link to UAT shows UAT's knowledge.
    const { body: link } = await api.call<{ token: string }>(
      'POST',
      `/api/environments/${uat.id}/share-links`,
      { label: 'Review' },
    );
    const shared = (await (await fetch(`${server.url}/api/share/${link.token}`)).json()) as {
      content: Content;
    };
    expect(titles(shared.content)).toEqual(titles(uatNow));
  });

  it('[FLOW-6] a pull is recorded in the taking environment’s history and opens as a diff of exactly the pulled article', async () => {
    const { api, uat, production, wanted } = await uatOnlyArticleReleased();
    const changes = changesOf(api);
    expect(
      (
        await api.call('POST', `/api/environments/${production.id}/pull`, {
          fromEnvironmentId: uat.id,
          section: 'knowledge',
          itemIds: [wanted],
        })
      ).status,
    ).toBe(200);
    expect(await changes(production.id, 'pull')).toEqual({
      total: 1,
      items: [`knowledge/${wanted}/added`],
    });
    expect(await changes(production.id, 'replicate')).toBeNull();
  });

  it('[FLOW-4] the replication of a change in Production is recorded below it and opens as a diff of exactly the changed article', async () => {
    const { api, client, staging, uat, production, wanted } = await uatOnlyArticleReleased();
    const changes = changesOf(api);
    // The UAT-only article, pulled into Production, then changed there.
    expect(
      (
        await api.call('POST', `/api/environments/${production.id}/pull`, {
          fromEnvironmentId: uat.id,
          section: 'knowledge',
          itemIds: [wanted],
        })
      ).status,
    ).toBe(200);
    const inProduction = client(production.draftId!);
    await synced(inProduction);
    await until(inProduction.doc, (d) => sectionMap(d, 'knowledge').has(wanted));
    itemText(sectionMap(inProduction.doc, 'knowledge').get(wanted), 'body')!.insert(0, 'Live: ');
    await expect
      .poll(() => changes(uat.id, 'replicate'))
      .toEqual({ total: 1, items: [`knowledge/${wanted}/changed`] });
    await expect
      .poll(() => changes(staging.id, 'replicate'))
      .toEqual({ total: 1, items: [`knowledge/${wanted}/changed`] });
  });

  it('[FLOW-1] a custom pipeline declares its own rules: knowledge down from UAT (edited in QA too), channels local to every stage', async () => {
    const { server, api } = await setup('five-stage');
    const stage = (name: string, kind = 'custom') => ({ name, kind, color: '#0d9488' });
    const stages = [
      stage('DEV', 'dev'),
      stage('QA', 'test'),
      stage('UAT', 'uat'),
      stage('PROD', 'production'),
    ];
    const { status, body: project } = await api.call<ProjectView>('POST', '/api/projects', {
      name: 'Custom',
      preset: 'custom',
      sample: true,
      stages,
      flowRules: {
        knowledge: { direction: 'down', source: 'UAT', editableIn: ['qa'] },
        channels: { direction: 'local' },
      },
    });
    expect(status).toBe(201);
    const [dev, qa, uat, prod] = project.environments;
    expect(project.flowRules.knowledge).toEqual({
      direction: 'down',
      sourceEnvId: uat!.id,
      editableEnvIds: [uat!.id, qa!.id],
    });
    expect(project.flowRules.channels).toEqual({ direction: 'local' });
    expect(project.environments.map((e) => e.draftSections)).toEqual([
      ['agents', 'workflows', 'integrations', 'channels', 'variables'],
      ['knowledge', 'channels'],
      ['knowledge', 'channels'],
      ['channels'],
    ]);

    // Knowledge edited in UAT reaches QA and DEV (read-only there); PROD, above the source, holds none.
    await server.rooms.edit(uat!.draftId!, 'test', (doc) =>
      addItem(doc, 'knowledge', { title: 'Set up in UAT', body: 'Flows down.' }),
    );
    type Content = {
      knowledge: Record<string, { title: string }>;
      channels: Record<string, { name: string }>;
      agents: object;
    };
    const content = async (envId: string) =>
      (await api.call<Content>('GET', `/api/environments/${envId}/content`)).body;
    const titles = async (envId: string) =>
      Object.values((await content(envId)).knowledge).map((a) => a.title);
    await expect.poll(() => titles(dev!.id)).toContain('Set up in UAT');
    expect(await titles(qa!.id)).toContain('Set up in UAT');
    expect(await titles(prod!.id)).toEqual([]);

    // A local channel changed in PROD stays there; a Sync moves none of DEV's channels.
    const prodChannel = Object.keys((await content(prod!.id)).channels)[0]!;
    await server.rooms.edit(prod!.draftId!, 'test', (doc) =>
      sectionMap(doc, 'channels').get(prodChannel)!.set('name', 'Production widget'),
    );
    await server.rooms.edit(dev!.draftId!, 'test', (doc) =>
      addItem(doc, 'channels', { name: 'DEV only', type: 'web_widget', title: 'Try me' }),
    );
    for (const env of [dev, qa, uat])
      expect(
        (
          await api.call('POST', `/api/environments/${env!.id}/sync`, {
            confirmMissingSecrets: true,
          })
        ).status,
      ).toBe(200);
    const { body: after } = await api.call<ProjectView>('GET', `/api/projects/${project.id}`);
    const { body: snapshot } = await api.call<{ content: Content }>(
      'GET',
      `/api/snapshots/${after.environments[3]!.snapshotId}`,
    );
    expect([snapshot.content.channels, snapshot.content.knowledge]).toEqual([{}, {}]);
    const names = async (envId: string) =>
      Object.values((await content(envId)).channels)
        .map((c) => c.name)
        .sort();
    expect(await names(prod!.id)).toContain('Production widget');
    expect(await names(prod!.id)).not.toContain('DEV only');
    expect(await names(qa!.id)).not.toContain('DEV only');
    expect(Object.keys((await content(prod!.id)).agents).length).toBeGreaterThan(0);
  });

  it('[FLOW-7] custom rules that cannot hold are refused at creation with the reason, and nothing is created', async () => {
    const { api } = await setup('five-stage');
    const stages = ['A', 'B', 'C'].map((name) => ({ name, kind: 'custom', color: '#0d9488' }));
    const refused = async (flowRules: object, preset = 'custom') => {
      const { status, body } = await api.call<{ error: { id: string; message: string } }>(
        'POST',
        '/api/projects',
        { name: 'Bad', preset, ...(preset === 'custom' ? { stages } : {}), flowRules },
      );
      return [status, body.error.id, body.error.message];
    };
    expect(await refused({ knowledge: { direction: 'down', source: 'A' } })).toEqual([
      400,
      'invalid_body',
      expect.stringContaining('choose a source above the first stage'),
    ]);
    expect(await refused({ knowledge: { direction: 'down', source: 'Nope' } })).toEqual([
      400,
      'invalid_body',
      expect.stringContaining('There is no stage named “Nope”'),
    ]);
    expect(
      await refused({ knowledge: { direction: 'down', source: 'B', editableIn: ['C'] } }),
    ).toEqual([
      400,
      'invalid_body',
      expect.stringContaining('only in its source stage or below it'),
    ]);
    expect(await refused({ workflows: { direction: 'local' } })).toEqual([
      400,
      'invalid_body',
      expect.stringContaining('agents refer to workflows by id'),
    ]);
    expect(await refused({ knowledge: { direction: 'sideways' } })).toEqual([
      400,
      'invalid_body',
      expect.any(String),
    ]);
    expect(await refused({ knowledge: { direction: 'local' } }, 'three-stage')).toEqual([
      400,
      'invalid_body',
      expect.stringContaining('only with the preset "custom"'),
    ]);
    const { body: list } = await api.call<{ projects: { name: string }[] }>('GET', '/api/projects');
    expect(list.projects.map((p) => p.name)).toEqual(['Cluster']);
  });
  it('[FLOW-4] a change stored just before a stop replicates after the restart', async () => {
    const first = await startTestServer(undefined, { REPLICATION_DELAY_MS: '60000' });
    const admin = await setupAdmin(first.url);
    const { body: project } = await overTheWire(first.url, admin.token).call<ProjectView>(
      'POST',
      '/api/projects',
      { name: 'Restart', preset: 'three-stage' },
    );
    const [, uat, production] = project.environments;
    expect(
      await first.rooms.edit(production!.draftId!, 'test', (doc) =>
        addItem(doc, 'knowledge', { title: 'Written before the stop', body: 'Must reach UAT.' }),
      ),
    ).toBe(true);
    await first.close();

    const second = await startTestServer(first.dataDir, { REPLICATION_DELAY_MS: '10' });
    cleanup.push(() => second.close());
    const titles = async () =>
      Object.values(
        (
          await overTheWire(second.url, admin.token).call<{
            knowledge: Record<string, { title: string }>;
          }>('GET', `/api/environments/${uat!.id}/content`)
        ).body.knowledge,
      ).map((a) => a.title);
    await expect.poll(titles).toEqual(['Written before the stop']);
  });
  it('[FLOW-8] a project admin changes the rules later and no environment’s content changes: knowledge starts to flow down from production, then moves up again', async () => {
    const { api, project, client } = await setup('five-stage', true);
    const envs = project.environments;
    const [dev, , uat, , production] = envs;
    for (const e of envs.slice(0, 4))
      expect(
        (await api.call('POST', `/api/environments/${e.id}/sync`, { confirmMissingSecrets: true }))
          .status,
      ).toBe(200);
    expect(
      (
        await api.call('POST', `/api/environments/${production!.id}/publish`, {
          confirmMissingSecrets: true,
        })
      ).status,
    ).toBe(200);
    // What every stage shows (and production's live content), as objects: key order does not matter.
    const shown = async () =>
      Promise.all(
        [
          ...envs.map((e) => api.call<object>('GET', `/api/environments/${e.id}/content`)),
          api.call<object>('GET', `/api/environments/${production!.id}/content?pointer=live`),
        ].map(async (r) => (await r).body),
      );
    const before = await shown();
    const editor = client(dev!.draftId!);
    await synced(editor);
    const reconnect = closeCode(editor);

    const { status, body: changed } = await api.call<ProjectView>(
      'PUT',
      `/api/projects/${project.id}/flow-rules`,
      {
        flowRules: { knowledge: { direction: 'down', source: 'PRODUCTION', editableIn: ['UAT'] } },
      },
    );
    expect(status).toBe(200);
    expect(changed.flowRules.knowledge).toEqual({
      direction: 'down',
      sourceEnvId: production!.id,
      editableEnvIds: [production!.id, uat!.id],
    });
    expect(changed.environments.map((e) => e.draftSections ?? null)).toEqual([
      ['agents', 'workflows', 'integrations', 'channels', 'variables'],
      null,
      ['knowledge'],
      null,
      ['knowledge'],
    ]);
    expect(await reconnect).toBe(CLOSE.rights_changed);
    expect(await shown()).toEqual(before);

    // Knowledge edited in production now reaches every stage below it.
    const inProduction = client(changed.environments[4]!.draftId!);
    await synced(inProduction);
    addItem(inProduction.doc, 'knowledge', { title: 'Set up in production', body: 'Flows down.' });
    const titles = async (envId: string, query = '') =>
      Object.values(
        (
          await api.call<{ knowledge: Record<string, { title: string }> }>(
            'GET',
            `/api/environments/${envId}/content${query}`,
          )
        ).body.knowledge,
      ).map((a) => a.title);
    for (const e of envs.slice(0, 4))
      await expect.poll(() => titles(e.id)).toContain('Set up in production');

    // Back to moving up: every stage still shows the knowledge it had; the snapshots now carry it.
    const again = await shown();
    const { status: backStatus, body: back } = await api.call<ProjectView>(
      'PUT',
      `/api/projects/${project.id}/flow-rules`,
      { flowRules: {} },
    );
    expect(backStatus).toBe(200);
    expect(back.environments.map((e) => e.draftSections ?? null)).toEqual([
      [...SECTIONS],
      null,
      null,
      null,
      null,
    ]);
    expect(await shown()).toEqual(again);
    expect(await titles(production!.id, '?pointer=live')).toContain('Set up in production');
    const { body: history } = await api.call<{ history: { kind: string; pointer: string }[] }>(
      'GET',
      `/api/environments/${production!.id}/history`,
    );
    expect(
      history.history
        .filter((h) => h.kind === 'compose')
        .map((h) => h.pointer)
        .sort(),
    ).toEqual(['current', 'live']);

    // Rules that cannot hold change nothing.
    const { status: badStatus } = await api.call('PUT', `/api/projects/${project.id}/flow-rules`, {
      flowRules: { workflows: { direction: 'local' } },
    });
    expect(badStatus).toBe(400);
    expect(
      (await api.call<ProjectView>('GET', `/api/projects/${project.id}`)).body.flowRules.workflows,
    ).toEqual({ direction: 'up' });
  });
});

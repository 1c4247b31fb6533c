import { describe, expect, it } from 'vitest';
import { itemText, sectionMap } from '#schema/content/ydoc.ts';
import type { ProjectView } from '#schema/api.ts';
import { connect, synced, until } from '../helpers/clients.ts';
import { setupAdmin, startTestServer } from '../helpers/server.ts';
import { overTheWire } from '../helpers/fixture.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';

/** Issue 13 point 7: a pull never overwrites newer content here without a diff and a confirmation. */
const DELAY_MS = 500;
const within = { timeout: DELAY_MS + 5000 };
const cleanup = cleanupAfterEach();

type Knowledge = { knowledge: Record<string, { title: string; body: string }> };
type Preview = {
  items: {
    itemId: string;
    kind: string;
    newerHere: boolean;
    fields: {
      field: string;
      before: unknown;
      after: unknown;
      lines?: { op: string; text: string }[];
    }[];
  }[];
};
type ErrorBody = { error: { id: string; details?: { itemIds: string[] } } };

async function threeStage() {
  const server = await startTestServer(undefined, { REPLICATION_DELAY_MS: String(DELAY_MS) });
  cleanup.push(() => server.close());
  const admin = await setupAdmin(server.url);
  const api = overTheWire(server.url, admin.token);
  const { status, body: project } = await api.call<ProjectView>('POST', '/api/projects', {
    name: 'Support',
    preset: 'three-stage',
    sample: true,
  });
  expect(status).toBe(201);
  const [, uat, production] = project.environments;
  const bodyIn = async (envId: string, id: string) =>
    (await api.call<Knowledge>('GET', `/api/environments/${envId}/content`)).body.knowledge[id]
      ?.body;
  /** Prepends `text` to an article's body, as an editor in that environment types it. */
  const edit = async (draftId: string, itemId: string, text: string) => {
    const c = connect(server.url, draftId, { token: admin.token });
    cleanup.push(() => c.destroy());
    await synced(c);
    await until(c.doc, (d) => sectionMap(d, 'knowledge').has(itemId));
    itemText(sectionMap(c.doc, 'knowledge').get(itemId), 'body')!.insert(0, text);
  };
  const preview = async () =>
    (
      await api.call<Preview>(
        'GET',
        `/api/environments/${production!.id}/pull?from=${uat!.id}&section=knowledge`,
      )
    ).body.items;
  const pull = (itemIds: string[], confirmOverwrite?: boolean) =>
    api.call<ErrorBody>('POST', `/api/environments/${production!.id}/pull`, {
      fromEnvironmentId: uat!.id,
      section: 'knowledge',
      itemIds,
      confirmOverwrite,
    });
  return { api, uat: uat!, production: production!, bodyIn, edit, preview, pull };
}

describe('REL-7 pulling never overwrites newer content unasked', () => {
  it('REL-7 an article edited in UAT, later in Production: the preview marks it newer here with the field diff; pulling it needs confirmOverwrite', async () => {
    const { uat, production, bodyIn, edit, preview, pull, api } = await threeStage();
    await edit(uat.draftId!, 'kb_shipping', 'UAT wording. ');
    await edit(uat.draftId!, 'kb_returns', 'Only UAT changed this. ');
    await expect.poll(() => bodyIn(uat.id, 'kb_returns')).toMatch(/^Only UAT changed this\. /);
    await edit(production.draftId!, 'kb_shipping', 'Production wording. ');
    // Replication finds the article changed on both sides: UAT keeps its (older) version.
    await expect
      .poll(
        async () =>
          (
            await api.call<{ conflicts: { itemId: string }[] }>(
              'GET',
              `/api/environments/${uat.id}/conflicts`,
            )
          ).body.conflicts.map((c) => c.itemId),
        within,
      )
      .toEqual(['kb_shipping']);

    const items = await preview();
    const shipping = items.find((i) => i.itemId === 'kb_shipping')!;
    expect(shipping).toMatchObject({ kind: 'changed', newerHere: true });
    const body = shipping.fields.find((f) => f.field === 'body')!;
    expect(body.before).toMatch(/^Production wording\. /);
    expect(body.after).toMatch(/^UAT wording\. /);
    expect(body.lines!.filter((l) => l.op !== 'same').map((l) => l.op)).toEqual(
      expect.arrayContaining(['del', 'add']),
    );
    expect(items.find((i) => i.itemId === 'kb_returns')).toMatchObject({
      kind: 'changed',
      newerHere: false,
    });

    // Without the confirmation: refused, naming only the newer item, and nothing moves (not even the other one).
    const { status, body: refused } = await pull(['kb_shipping', 'kb_returns']);
    expect(status).toBe(409);
    expect(refused.error.id).toBe('pull_overwrites_newer');
    expect(refused.error.details).toEqual({ itemIds: ['kb_shipping'] });
    expect(await bodyIn(production.id, 'kb_shipping')).toMatch(/^Production wording\. /);
    expect(await bodyIn(production.id, 'kb_returns')).not.toMatch(/^Only UAT/);

    // An item that is not newer here pulls without one.
    expect((await pull(['kb_returns'])).status).toBe(200);
    expect(await bodyIn(production.id, 'kb_returns')).toMatch(/^Only UAT changed this\. /);

    // Confirmed: UAT's version lands.
    expect((await pull(['kb_shipping'], true)).status).toBe(200);
    expect(await bodyIn(production.id, 'kb_shipping')).toMatch(/^UAT wording\. /);
    expect((await preview()).map((i) => i.itemId)).toEqual([]);
  });

  it('REL-7 an article edited in Production, then in UAT on top of that version, is not newer here: it pulls without confirmation', async () => {
    const { uat, production, bodyIn, edit, preview, pull } = await threeStage();
    await edit(production.draftId!, 'kb_shipping', 'Production wording. ');
    await expect
      .poll(() => bodyIn(uat.id, 'kb_shipping'), within)
      .toMatch(/^Production wording\. /);
    await edit(uat.draftId!, 'kb_shipping', 'UAT on top. ');
    await expect
      .poll(() => bodyIn(uat.id, 'kb_shipping'))
      .toMatch(/^UAT on top\. Production wording\. /);

    expect((await preview()).find((i) => i.itemId === 'kb_shipping')).toMatchObject({
      kind: 'changed',
      newerHere: false,
    });
    expect((await pull(['kb_shipping'])).status).toBe(200);
    expect(await bodyIn(production.id, 'kb_shipping')).toMatch(
      /^UAT on top\. Production wording\. /,
    );
  });
});

import { describe, expect, it } from 'vitest';
import { sampleContent } from '#schema/content/sample.ts';
import { itemText, sectionMap } from '#schema/content/ydoc.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { connect, synced, until, type Client } from '../helpers/clients.ts';
import { setupAdmin, testServer } from '../helpers/server.ts';
import { newUser, overTheWire } from '../helpers/fixture.ts';

const cleanup = cleanupAfterEach();

type Env = { id: string; liveSnapshotId: string | null };
type Content = {
  channels: Record<string, { greeting: string }>;
  variables: Record<string, { defaultValue: string }>;
};
type ApiError = {
  error: {
    id: string;
    details: { lost: { section: string; itemId: string; field: string | null; value: unknown }[] };
  };
};

/** A five-stage sample project whose first release is live, and a way to take DEV's content live. */
async function live() {
  const server = await testServer(cleanup);
  const admin = (await setupAdmin(server.url)).token;
  const api = overTheWire(server.url, admin);
  const { body: p } = await api.call<{ id: string; environments: Env[] }>('POST', '/api/projects', {
    name: 'Hotfix CAS',
    sample: true,
  });
  const envs = p.environments.map((e) => e.id);
  const prod = envs[4]!;
  const release = async () => {
    for (const e of envs.slice(0, 4))
      expect(
        (await api.call('POST', `/api/environments/${e}/sync`, { confirmMissingSecrets: true }))
          .status,
      ).toBe(200);
    expect(
      (await api.call('POST', `/api/environments/${prod}/publish`, { confirmMissingSecrets: true }))
        .status,
    ).toBe(200);
  };
  await release();
  const liveId = async () =>
    (await api.call<{ environments: Env[] }>('GET', `/api/projects/${p.id}`)).body.environments[4]!
      .liveSnapshotId!;
  const liveContent = async () =>
    (
      await api.call<{ content: Content }>(
        'GET',
        `/api/snapshots/${await liveId()}?project=${p.id}`,
      )
    ).body.content;
  return { server, admin, api, projectId: p.id, dev: envs[0]!, prod, release, liveId, liveContent };
}

/**
 * Starts a hotfix and types into it with a stock client, as the release manager would; resolves
 * once the server holds it.
 */
async function typeHotfix(l: Awaited<ReturnType<typeof live>>): Promise<Client> {
  const {
    status,
    body: { draftId },
  } = await l.api.call<{ draftId: string }>('POST', `/api/environments/${l.prod}/hotfix`);
  expect(status).toBe(201);
  const c = connect(l.server.url, draftId, { token: l.admin });
  cleanup.push(() => c.destroy());
  await synced(c);
  itemText(sectionMap(c.doc, 'channels').get('ch_widget'), 'greeting')!.insert(
    0,
    'URGENT: store closed today. ',
  );
  await expect
    .poll(async () => {
      const { body: d } = await l.api.call<Record<string, unknown>>(
        'GET',
        `/api/diff?from=live:${l.prod}&to=draft:${draftId}`,
      );
      return JSON.stringify(d).includes('URGENT');
    })
    .toBe(true);
  return c;
}

describe('hotfix publish in real use', () => {
  it('REL-3 [HOT-6] a Publish made while a hotfix is open is not undone: 409 live_moved naming it; after a rebase the hotfix publishes and live holds both', async () => {
    const l = await live();
    const client = await typeHotfix(l);

    // Release-2 goes live while the hotfix is open.
    const next = sampleContent();
    next.variables.var_max_refund!.defaultValue = '35';
    expect((await l.api.call('PUT', `/api/environments/${l.dev}/content`, next)).status).toBe(200);
    await l.release();
    const release2 = await l.liveId();

    const { status, body } = await l.api.call<ApiError>(
      'POST',
      `/api/environments/${l.prod}/hotfix/publish`,
      { message: 'store closed' },
    );
    expect(status).toBe(409);
    expect(body.error.id).toBe('live_moved');
    expect(body.error.details.lost).toEqual([
      expect.objectContaining({
        section: 'variables',
        itemId: 'var_max_refund',
        field: 'defaultValue',
        value: '35',
      }),
    ]);
    expect(await l.liveId()).toBe(release2);
    expect(
      (await l.api.call<{ draftId: string | null }>('GET', `/api/environments/${l.prod}/hotfix`))
        .body.draftId,
    ).not.toBeNull();

    const { status: rebased, body: r } = await l.api.call<{
      baseSnapshotId: string;
      applied: number;
    }>('POST', `/api/environments/${l.prod}/hotfix/rebase`);
    expect(rebased).toBe(200);
    expect(r).toMatchObject({ baseSnapshotId: release2, applied: 1 });
    // The editors see the rebase live: release-2's value arrives, their own edit stays.
    await until(
      client.doc,
      (doc) => sectionMap(doc, 'variables').get('var_max_refund')?.get('defaultValue') === '35',
    );
    expect(
      String(itemText(sectionMap(client.doc, 'channels').get('ch_widget'), 'greeting')),
    ).toMatch(/^URGENT: store closed today\. /);

    expect(
      (
        await l.api.call('POST', `/api/environments/${l.prod}/hotfix/publish`, {
          message: 'store closed',
        })
      ).status,
    ).toBe(200);
    const content = await l.liveContent();
    expect(content.variables.var_max_refund!.defaultValue).toBe('35');
    expect(content.channels.ch_widget!.greeting).toMatch(/^URGENT: store closed today\. /);
  });

  it('REL-4 [HOT-7] [GATE-1] a hotfix publish obeys production’s four-eyes gate: 409 approval_required, then a hotfix request approved by another approver publishes it', async () => {
    const l = await live();
    const approver = await newUser(
      overTheWire(l.server.url, l.admin),
      'approver@example.com',
      'Ada Approver',
    );
    expect(
      (
        await l.api.call('PUT', `/api/projects/${l.projectId}/members/${approver.id}`, {
          roles: { [l.prod]: ['viewer', 'approver'] },
        })
      ).status,
    ).toBe(200);
    expect(
      (
        await l.api.call('PUT', `/api/environments/${l.prod}/gate`, {
          requiredApprovals: 1,
          allowSelfApproval: false,
        })
      ).status,
    ).toBe(200);
    const before = await l.liveId();
    await typeHotfix(l);

    const { status: refused, body } = await l.api.call<ApiError>(
      'POST',
      `/api/environments/${l.prod}/hotfix/publish`,
      {},
    );
    expect(refused).toBe(409);
    expect(body.error.id).toBe('approval_required');
    expect(await l.liveId()).toBe(before);

    const { status: created, body: req } = await l.api.call<{
      id: string;
      kind: string;
      snapshotId: string;
    }>('POST', `/api/environments/${l.prod}/requests`, { message: 'store closed', hotfix: true });
    expect(created).toBe(201);
    expect(req.kind).toBe('hotfix');
    // The request is bound to the hotfix's content: what the approver reads is what goes live.
    const { body: frozen } = await l.api.call<{ content: Content }>(
      'GET',
      `/api/snapshots/${req.snapshotId}?project=${l.projectId}`,
    );
    expect(frozen.content.channels.ch_widget!.greeting).toMatch(/^URGENT/);
    expect(
      (
        await overTheWire(l.server.url, approver.token).call(
          'POST',
          `/api/requests/${req.id}/approve`,
          { comment: 'ok' },
        )
      ).status,
    ).toBe(200);

    const {
      status: published,
      body: { release },
    } = await l.api.call<{ release: { toSnapshotId: string; detail: { requestId?: string } } }>(
      'POST',
      `/api/environments/${l.prod}/hotfix/publish`,
      {},
    );
    expect(published).toBe(200);
    expect(release.toSnapshotId).toBe(req.snapshotId);
    expect(release.detail.requestId).toBe(req.id);
    expect(await l.liveId()).toBe(req.snapshotId);
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { sampleContent } from '#schema/content/sample.ts';
import { itemText, sectionMap } from '#schema/content/ydoc.ts';
import { inProcessInstance, type Env, type Instance } from '../helpers/fixture.ts';

let api: Instance;
afterEach(() => api?.close());

/** A project whose sample release is live in production. */
async function live() {
  const p = await api.ok<{ id: string; environments: Env[] }>('POST', '/api/projects', {
    name: 'Hotfix',
    sample: true,
  });
  const [dev, test, uat, staging, prod] = p.environments as [Env, Env, Env, Env, Env];
  const promote = async (body: object = {}) => {
    for (const e of [dev, test, uat])
      await api.ok('POST', `/api/environments/${e.id}/sync`, { confirmMissingSecrets: true });
    return api.call<{ error?: { id: string; details: unknown[] } }>(
      'POST',
      `/api/environments/${staging.id}/sync`,
      { confirmMissingSecrets: true, ...body },
    );
  };
  await promote();
  await api.ok('POST', `/api/environments/${prod.id}/publish`, { confirmMissingSecrets: true });
  return { id: p.id, dev, prod, promote };
}

type Divergence = {
  divergence: {
    pending: {
      section: string;
      itemId: string;
      kind: string;
      field: string | null;
      value: unknown;
    }[];
  }[];
};

async function publishHotfix(p: Awaited<ReturnType<typeof live>>) {
  const { draftId } = await api.ok<{ draftId: string }>(
    'POST',
    `/api/environments/${p.prod.id}/hotfix`,
  );
  // The hotfix is co-edited like DEV; here one server-side edit stands for the release manager's typing.
  await api.services.rooms.edit(draftId, 'test', (doc) => {
    itemText(sectionMap(doc, 'channels').get('ch_widget'), 'greeting')!.insert(
      0,
      'URGENT: store closed today. ',
    );
    sectionMap(doc, 'variables').get('var_max_refund')!.set('defaultValue', '20');
  });
  const { release } = await api.ok<{
    release: { kind: string; pointer: string; toSnapshotId: string };
  }>('POST', `/api/environments/${p.prod.id}/hotfix/publish`, { message: 'store closed' });
  return { draftId, release };
}

describe('hotfix in production', () => {
  it('[HOT-1] one hotfix at a time: a second is 409 hotfix_open until the first is discarded', async () => {
    api = await inProcessInstance();
    const p = await live();
    expect((await api.call('POST', `/api/environments/${p.prod.id}/hotfix`)).status).toBe(201);
    expect(
      (await api.call<{ error: { id: string } }>('POST', `/api/environments/${p.prod.id}/hotfix`))
        .body.error.id,
    ).toBe('hotfix_open');
    await api.ok('DELETE', `/api/environments/${p.prod.id}/hotfix`);
    await publishHotfix(p);
  });

  it('[HOT-2] publishes a hotfix straight to live: a hotfix snapshot on the live pointer, forked from the live one; the production pointer stays', async () => {
    api = await inProcessInstance();
    const p = await live();
    const before = (await api.ok<{ environments: Env[] }>('GET', `/api/projects/${p.id}`))
      .environments[4]!;
    const { release } = await publishHotfix(p);
    expect(release).toMatchObject({ kind: 'hotfix', pointer: 'live' });
    const after = (await api.ok<{ environments: Env[] }>('GET', `/api/projects/${p.id}`))
      .environments[4]!;
    expect(after.liveSnapshotId).toBe(release.toSnapshotId);
    expect(after.snapshotId).toBe(before.snapshotId);
    const snap = await api.ok<{ kind: string; parentId: string }>(
      'GET',
      `/api/snapshots/${release.toSnapshotId}`,
    );
    expect(snap).toMatchObject({ kind: 'hotfix', parentId: before.liveSnapshotId });
  });

  it('[HOT-3] a published hotfix’s changes that DEV does not hold are its divergence, field by field', async () => {
    api = await inProcessInstance();
    const p = await live();
    await publishHotfix(p);
    const d = await api.ok<Divergence>('GET', `/api/environments/${p.prod.id}/divergence`);
    expect(d.divergence[0]!.pending.map((c) => [c.section, c.itemId, c.kind, c.field])).toEqual([
      ['channels', 'ch_widget', 'changed', 'greeting'],
      ['variables', 'var_max_refund', 'changed', 'defaultValue'],
    ]);
  });

  it('[HOT-4] apply to DEV ports exactly the hotfix into the DEV draft in one change, and the divergence clears', async () => {
    api = await inProcessInstance();
    const p = await live();
    await publishHotfix(p);
    // Applying to DEV is one Yjs transaction with a typed origin.
    const devDraft = p.dev.draftId!;
    const applied = await api.ok<{ applied: number; divergence: unknown[] }>(
      'POST',
      `/api/environments/${p.prod.id}/hotfix/apply-to-dev`,
    );
    expect(applied).toEqual({ applied: 2, divergence: [] });
    const dev = await api.ok<{
      channels: Record<string, { greeting: string }>;
      variables: Record<string, { defaultValue: string }>;
    }>('GET', `/api/environments/${p.dev.id}/content`);
    expect(dev.channels.ch_widget!.greeting.startsWith('URGENT: store closed today. Hi!')).toBe(
      true,
    );
    expect(dev.variables.var_max_refund!.defaultValue).toBe('20');
    expect(devDraft).toBeDefined();
    const d = await api.ok<Divergence>('GET', `/api/environments/${p.prod.id}/divergence`);
    expect(d.divergence).toEqual([]);
  });

  it('[HOT-3] divergence clears by itself when DEV gets the same values by hand', async () => {
    api = await inProcessInstance();
    const p = await live();
    await publishHotfix(p);
    const fixed = sampleContent();
    fixed.variables.var_max_refund!.defaultValue = '20';
    await api.ok('PUT', `/api/environments/${p.dev.id}/content`, fixed);
    let d = await api.ok<Divergence>('GET', `/api/environments/${p.prod.id}/divergence`);
    expect(d.divergence[0]!.pending.map((c) => c.field)).toEqual(['greeting']);
    fixed.channels.ch_widget!.greeting = `URGENT: store closed today. ${fixed.channels.ch_widget!.greeting as string}`;
    await api.ok('PUT', `/api/environments/${p.dev.id}/content`, fixed);
    d = await api.ok<Divergence>('GET', `/api/environments/${p.prod.id}/divergence`);
    expect(d.divergence).toEqual([]);
  });

  it('[HOT-5] refuses a Sync or Publish that would undo a hotfix unless confirmed, listing what would be undone', async () => {
    api = await inProcessInstance();
    const p = await live();
    await publishHotfix(p);
    // DEV moves on without the hotfix; promoting it would undo the hotfix in production.
    const next = sampleContent();
    next.knowledge.kb_sizes!.title = 'Size chart';
    await api.ok('PUT', `/api/environments/${p.dev.id}/content`, next);
    const { status, body } = await p.promote();
    expect(status).toBe(409);
    expect(body.error!.id).toBe('would_undo_hotfix');
    expect(body.error!.details).toHaveLength(2);
    const prodBefore = (await api.ok<{ environments: Env[] }>('GET', `/api/projects/${p.id}`))
      .environments[4]!;

    const { status: ok } = await p.promote({ confirmUndoHotfix: true });
    expect(ok).toBe(200);
    const { status: pubStatus, body: pubBody } = await api.call<{ error: { id: string } }>(
      'POST',
      `/api/environments/${p.prod.id}/publish`,
      { confirmMissingSecrets: true },
    );
    expect(pubStatus).toBe(409);
    expect(pubBody.error.id).toBe('would_undo_hotfix');
    expect(
      (await api.ok<{ environments: Env[] }>('GET', `/api/projects/${p.id}`)).environments[4]!
        .liveSnapshotId,
    ).toBe(prodBefore.liveSnapshotId);
    await api.ok('POST', `/api/environments/${p.prod.id}/publish`, {
      confirmUndoHotfix: true,
      confirmMissingSecrets: true,
    });
    // The hotfix was knowingly overridden: no longer tracked.
    expect(
      (await api.ok<Divergence>('GET', `/api/environments/${p.prod.id}/divergence`)).divergence,
    ).toEqual([]);
  });

  it('[HOT-5] a promotion that carries the hotfix values passes without confirmation', async () => {
    api = await inProcessInstance();
    const p = await live();
    await publishHotfix(p);
    await api.ok('POST', `/api/environments/${p.prod.id}/hotfix/apply-to-dev`);
    const { status } = await p.promote();
    expect(status).toBe(200);
    await api.ok('POST', `/api/environments/${p.prod.id}/publish`, { confirmMissingSecrets: true });
  });

  it('[HOT-1] only production has hotfixes, and a hotfix needs something live', async () => {
    api = await inProcessInstance();
    const p = await api.ok<{ environments: Env[] }>('POST', '/api/projects', {
      name: 'X',
      sample: true,
    });
    expect(
      (
        await api.call<{ error: { id: string } }>(
          'POST',
          `/api/environments/${p.environments[1]!.id}/hotfix`,
        )
      ).body.error.id,
    ).toBe('not_production');
    expect(
      (
        await api.call<{ error: { id: string } }>(
          'POST',
          `/api/environments/${p.environments[4]!.id}/hotfix`,
        )
      ).body.error.id,
    ).toBe('nothing_live');
  });
});

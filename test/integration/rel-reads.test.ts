import { afterEach, describe, expect, it } from 'vitest';
import { sampleContent } from '#schema/content/sample.ts';
import { addItem, itemText, sectionMap } from '#schema/content/ydoc.ts';
import type { ProjectView } from '#schema/api.ts';
import { inProcessInstance, type Env, type Instance } from '../helpers/fixture.ts';

/** REL-14: reads never write; a flow-rule change is all or nothing, and two admins cannot interleave. */
let api: Instance;
afterEach(() => api?.close());

/** Every row the release path keeps (sessions and tokens left out: a request may touch their last use). */
const TABLES = [
  'projects',
  'environments',
  'drafts',
  'draft_states',
  'draft_updates',
  'snapshots',
  'blobs',
  'releases',
  'hotfixes',
  'replication_bases',
  'audit_events',
  'promotion_requests',
  'approvals',
];
const dump = async () =>
  Object.fromEntries(
    await Promise.all(TABLES.map(async (t) => [t, await api.services.stored.dump(t)] as const)),
  );

/** A five-stage sample project with its release synced through and live in production. */
async function live() {
  const p = await api.ok<ProjectView & { environments: Env[] }>('POST', '/api/projects', {
    name: 'Reads',
    sample: true,
  });
  for (const e of p.environments.slice(0, 4))
    await api.ok('POST', `/api/environments/${e.id}/sync`, { confirmMissingSecrets: true });
  const prod = p.environments[4]!;
  await api.ok('POST', `/api/environments/${prod.id}/publish`, { confirmMissingSecrets: true });
  return { p, dev: p.environments[0]!, prod };
}

/** What every stage shows, and production's live content. */
const shown = (envs: readonly Env[]) =>
  Promise.all([
    ...envs.map((e) => api.ok(`GET`, `/api/environments/${e.id}/content`)),
    api.ok('GET', `/api/environments/${envs.at(-1)!.id}/content?pointer=live`),
  ]);

describe('REL-14 reads are pure; flow-rule changes are planned, then committed once', () => {
  it('REL-14 [HOT-3] (a) reading the hotfix divergence and the board twice changes no row, even when a hotfix has fully arrived in DEV', async () => {
    api = await inProcessInstance();
    const { p, dev, prod } = await live();
    const { draftId } = await api.ok<{ draftId: string }>(
      'POST',
      `/api/environments/${prod.id}/hotfix`,
    );
    await api.services.rooms.edit(draftId, 'test', (doc) =>
      itemText(sectionMap(doc, 'channels').get('ch_widget'), 'greeting')!.insert(0, 'URGENT: '),
    );
    await api.ok('POST', `/api/environments/${prod.id}/hotfix/publish`, { message: 'urgent' });
    // DEV gets the hotfix's change by hand: nothing is pending any more.
    const fixed = sampleContent();
    fixed.channels.ch_widget!.greeting = `URGENT: ${fixed.channels.ch_widget!.greeting as string}`;
    await api.ok('PUT', `/api/environments/${dev.id}/content`, fixed);

    const before = await dump();
    for (let i = 0; i < 2; i++) {
      expect(
        (await api.ok<{ divergence: unknown[] }>('GET', `/api/environments/${prod.id}/divergence`))
          .divergence,
      ).toEqual([]);
      expect(
        (await api.ok<{ divergence: unknown[] }>('GET', `/api/projects/${p.id}/board`)).divergence,
      ).toEqual([]);
    }
    expect(await dump()).toEqual(before);
  });

  it('REL-14 [FLOW-8] (b) two flow-rule changes made from the same version: one 200, the other 409 rules_moved, and the loser changes no stage', async () => {
    api = await inProcessInstance({ REPLICATION_DELAY_MS: '60000' });
    const { p } = await live();
    const seen = await api.ok<ProjectView>('GET', `/api/projects/${p.id}`);
    expect(seen.flowRulesVersion).toEqual(expect.any(String));
    const first = await api.call<ProjectView>('PUT', `/api/projects/${p.id}/flow-rules`, {
      flowRules: { knowledge: { direction: 'down', source: 'PRODUCTION', editableIn: ['UAT'] } },
      expectedVersion: seen.flowRulesVersion,
    });
    expect(first.status).toBe(200);
    expect(first.body.flowRulesVersion).not.toBe(seen.flowRulesVersion);
    const after = await shown(p.environments);
    const rows = await dump();

    const { status, body } = await api.call<{ error: { id: string } }>(
      'PUT',
      `/api/projects/${p.id}/flow-rules`,
      { flowRules: { knowledge: { direction: 'local' } }, expectedVersion: seen.flowRulesVersion },
    );
    expect(status).toBe(409);
    expect(body.error.id).toBe('rules_moved');
    expect(await shown(p.environments)).toEqual(after);
    expect(await dump()).toEqual(rows);
    expect(
      (await api.ok<ProjectView>('GET', `/api/projects/${p.id}`)).flowRules.knowledge.direction,
    ).toBe('down');
  });

  it('REL-14 [FLOW-8] (c) a flow-rule change whose storage fails midway leaves no partial state, and succeeds whole once storage is back', async () => {
    api = await inProcessInstance({ REPLICATION_DELAY_MS: '60000' });
    const { p, prod } = await live();
    const down = await api.ok<ProjectView & { environments: Env[] }>(
      'PUT',
      `/api/projects/${p.id}/flow-rules`,
      {
        flowRules: { knowledge: { direction: 'down', source: 'PRODUCTION', editableIn: ['UAT'] } },
      },
    );
    // Knowledge edited in production: moving it up again composes new snapshots for production's pointers.
    const prodDraft = down.environments.find((e) => e.id === prod.id)!.draftId!;
    expect(
      await api.services.rooms.edit(prodDraft, 'test', (doc) =>
        addItem(doc, 'knowledge', { title: 'Set up in production', body: 'Only here.' }),
      ),
    ).toBe(true);
    const shownBefore = await shown(p.environments);
    const rows = await dump();

    // The disk fails on the first release record, after the rules and drafts were written in the old code.
    const mend = await api.services.stored.refuse('fail_releases', 'releases', 'INSERT', {
      message: 'disk I/O error',
    });
    const { status } = await api.call('PUT', `/api/projects/${p.id}/flow-rules`, { flowRules: {} });
    expect(status).toBeGreaterThanOrEqual(500);
    expect(await dump()).toEqual(rows);
    expect(await shown(p.environments)).toEqual(shownBefore);
    expect(
      (await api.ok<ProjectView>('GET', `/api/projects/${p.id}`)).flowRules.knowledge.direction,
    ).toBe('down');

    await mend();
    const up = await api.ok<ProjectView>('PUT', `/api/projects/${p.id}/flow-rules`, {
      flowRules: {},
    });
    expect(up.flowRules.knowledge).toEqual({ direction: 'up' });
    expect(await shown(p.environments)).toEqual(shownBefore);
  });
});

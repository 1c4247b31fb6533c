import { describe, expect, it } from 'vitest';
import { sampleContent } from '#schema/content/sample.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { setupAdmin, testServer } from '../helpers/server.ts';
import { overTheWire } from '../helpers/fixture.ts';

const cleanup = cleanupAfterEach();

type Env = { id: string; snapshotId: string | null; liveSnapshotId: string | null };
type History = {
  history: { kind: string; pointer: string; toSnapshotId: string; message: string | null }[];
  events: { kind: string; subject: { message?: string | null; draftId?: string } }[];
};

/** A five-stage sample project with its first release live, and a second one synced into production. */
async function twoReleases() {
  const server = await testServer(cleanup);
  const admin = (await setupAdmin(server.url)).token;
  const api = overTheWire(server.url, admin);
  const { body: p } = await api.call<{ id: string; environments: Env[] }>('POST', '/api/projects', {
    name: 'Reasons',
    sample: true,
  });
  const envs = p.environments.map((e) => e.id);
  const prod = envs[4]!;
  const syncAll = async () => {
    for (const e of envs.slice(0, 4))
      expect(
        (await api.call('POST', `/api/environments/${e}/sync`, { confirmMissingSecrets: true }))
          .status,
      ).toBe(200);
  };
  await syncAll();
  expect(
    (
      await api.call('POST', `/api/environments/${prod}/publish`, {
        message: 'first',
        confirmMissingSecrets: true,
      })
    ).status,
  ).toBe(200);
  const next = sampleContent();
  next.variables.var_max_refund!.defaultValue = '35';
  expect((await api.call('PUT', `/api/environments/${envs[0]}/content`, next)).status).toBe(200);
  await syncAll();
  const prodEnv = async () =>
    (await api.call<{ environments: Env[] }>('GET', `/api/projects/${p.id}`)).body.environments[4]!;
  const history = async () =>
    (await api.call<History>('GET', `/api/environments/${prod}/history`)).body;
  const hotfixOpen = async () =>
    (await api.call<{ draftId: string | null }>('GET', `/api/environments/${prod}/hotfix`)).body
      .draftId;
  return { api, dev: envs[0]!, prod, prodEnv, history, hotfixOpen, syncAll };
}

const tooLong = 'x'.repeat(501);

describe('production actions carry a reason', () => {
  it('REL-11 publish, rollback, hotfix publish and hotfix discard store their reason in the history; an over-long reason is refused and changes nothing', async () => {
    const t = await twoReleases();
    const release1 = (await t.prodEnv()).liveSnapshotId!;
    const release2 = (await t.prodEnv()).snapshotId!;

    // Publish.
    expect(
      (await t.api.call('POST', `/api/environments/${t.prod}/publish`, { message: tooLong }))
        .status,
    ).toBe(400);
    expect((await t.prodEnv()).liveSnapshotId).toBe(release1);
    expect(
      (
        await t.api.call('POST', `/api/environments/${t.prod}/publish`, {
          message: 'Refund limit raised for the sale',
          confirmMissingSecrets: true,
        })
      ).status,
    ).toBe(200);
    expect((await t.history()).history[0]).toMatchObject({
      kind: 'publish',
      pointer: 'live',
      toSnapshotId: release2,
      message: 'Refund limit raised for the sale',
    });

    // Rollback.
    expect(
      (
        await t.api.call('POST', `/api/environments/${t.prod}/rollback`, {
          snapshotId: release1,
          message: tooLong,
        })
      ).status,
    ).toBe(400);
    expect((await t.prodEnv()).liveSnapshotId).toBe(release2);
    expect(
      (
        await t.api.call('POST', `/api/environments/${t.prod}/rollback`, {
          snapshotId: release1,
          message: 'Refunds failing since the release',
        })
      ).status,
    ).toBe(200);
    expect((await t.history()).history[0]).toMatchObject({
      kind: 'rollback',
      pointer: 'live',
      toSnapshotId: release1,
      message: 'Refunds failing since the release',
    });

    // Hotfix publish.
    expect((await t.api.call('POST', `/api/environments/${t.prod}/hotfix`)).status).toBe(201);
    expect(
      (await t.api.call('POST', `/api/environments/${t.prod}/hotfix/publish`, { message: tooLong }))
        .status,
    ).toBe(400);
    expect(await t.hotfixOpen()).not.toBeNull();
    expect(
      (
        await t.api.call('POST', `/api/environments/${t.prod}/hotfix/publish`, {
          message: 'Store closed today',
        })
      ).status,
    ).toBe(200);
    expect((await t.history()).history[0]).toMatchObject({
      kind: 'hotfix',
      pointer: 'live',
      message: 'Store closed today',
    });

    // Hotfix discard: it moves no pointer, so its reason is an event of the environment's history.
    expect((await t.api.call('POST', `/api/environments/${t.prod}/hotfix`)).status).toBe(201);
    const draftId = await t.hotfixOpen();
    expect(
      (await t.api.call('DELETE', `/api/environments/${t.prod}/hotfix`, { message: tooLong }))
        .status,
    ).toBe(400);
    expect(await t.hotfixOpen()).toBe(draftId);
    expect(
      (
        await t.api.call('DELETE', `/api/environments/${t.prod}/hotfix`, {
          message: 'Not needed after all',
        })
      ).status,
    ).toBe(204);
    expect(await t.hotfixOpen()).toBeNull();
    expect((await t.history()).events[0]).toMatchObject({
      kind: 'hotfix.discarded',
      subject: { draftId, message: 'Not needed after all' },
    });

    // A bare DELETE (no body) still discards.
    expect((await t.api.call('POST', `/api/environments/${t.prod}/hotfix`)).status).toBe(201);
    expect((await t.api.call('DELETE', `/api/environments/${t.prod}/hotfix`)).status).toBe(204);
    expect(await t.hotfixOpen()).toBeNull();
  });

  it('REL-1 a Publish carries the live snapshot the caller saw: when live moved meanwhile, 409 target_moved and nothing changes', async () => {
    const t = await twoReleases();
    const release1 = (await t.prodEnv()).liveSnapshotId!;
    expect(
      (
        await t.api.call('POST', `/api/environments/${t.prod}/publish`, {
          expectedLiveSnapshotId: release1,
          message: 'theirs',
          confirmMissingSecrets: true,
        })
      ).status,
    ).toBe(200);
    const release2 = (await t.prodEnv()).liveSnapshotId!;
    expect(
      (
        await t.api.call('POST', `/api/environments/${t.prod}/rollback`, {
          snapshotId: release1,
          message: 'back',
        })
      ).status,
    ).toBe(200);
    // The stale caller saw release-2 live; live is release-1 now.
    const { status, body } = await t.api.call<{ error: { id: string } }>(
      'POST',
      `/api/environments/${t.prod}/publish`,
      { expectedLiveSnapshotId: release2, message: 'mine', confirmMissingSecrets: true },
    );
    expect(status).toBe(409);
    expect(body.error.id).toBe('target_moved');
    expect((await t.prodEnv()).liveSnapshotId).toBe(release1);
    expect((await t.history()).history[0]).toMatchObject({ kind: 'rollback', message: 'back' });
  });

  it('REL-1 a Publish carries the synced snapshot the caller reviewed: when production was synced meanwhile, 409 source_moved and nothing goes live', async () => {
    const t = await twoReleases();
    const { snapshotId: reviewed, liveSnapshotId: release1 } = await t.prodEnv();
    // Someone syncs a third release into production while the caller reviews the second.
    const third = sampleContent();
    third.variables.var_max_refund!.defaultValue = '40';
    expect((await t.api.call('PUT', `/api/environments/${t.dev}/content`, third)).status).toBe(200);
    await t.syncAll();
    expect((await t.prodEnv()).snapshotId).not.toBe(reviewed);
    const { status, body } = await t.api.call<{ error: { id: string } }>(
      'POST',
      `/api/environments/${t.prod}/publish`,
      {
        expectedSourceSnapshotId: reviewed,
        expectedLiveSnapshotId: release1,
        message: 'reviewed',
        confirmMissingSecrets: true,
      },
    );
    expect(status).toBe(409);
    expect(body.error.id).toBe('source_moved');
    expect((await t.prodEnv()).liveSnapshotId).toBe(release1);
    // What the caller saw now: it goes live.
    const now = (await t.prodEnv()).snapshotId!;
    expect(
      (
        await t.api.call('POST', `/api/environments/${t.prod}/publish`, {
          expectedSourceSnapshotId: now,
          expectedLiveSnapshotId: release1,
          message: 'reviewed again',
          confirmMissingSecrets: true,
        })
      ).status,
    ).toBe(200);
    expect((await t.prodEnv()).liveSnapshotId).toBe(now);
  });
});

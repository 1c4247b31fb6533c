import { describe, expect, it } from 'vitest';
import { toWorkspaceFile } from '#schema/content/file.ts';
import { sampleContent } from '#schema/content/sample.ts';
import type { FreezeView, ProjectView, ScheduledList, ScheduledResult } from '#schema/api.ts';
import { adminOf, newProject, newUser, overTheWire, type Client } from '../helpers/fixture.ts';
import { testServer } from '../helpers/server.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { onPostgres, stored } from '../helpers/dialect.ts';

/** Issue 16, "Scheduled releases and freeze windows", through the real server. */
const cleanup = cleanupAfterEach();

type Err = {
  error: { id: string; message: string; details?: { until?: string; reason?: string } };
};
type History = {
  history: {
    kind: string;
    toSnapshotId: string;
    actorId: string;
    detail: Record<string, unknown>;
  }[];
};

const inMs = (ms: number) => new Date(Date.now() + ms).toISOString();

/** A sample project synced up to production (secrets confirmed), nothing live yet. */
async function pipeline(dataDir?: string) {
  const server = await testServer(cleanup, {}, dataDir);
  const admin = await adminOf(server.url);
  const project = await newProject(admin, { sample: true });
  const ids = project.environments.map((e) => e.id) as [string, string, string, string, string];
  const [dev, test, uat, staging, prod] = ids;
  for (const e of [dev, test, uat]) await admin.ok('POST', `/api/environments/${e}/sync`, {});
  await admin.ok('POST', `/api/environments/${staging}/sync`, { confirmMissingSecrets: true });
  const envOf = async (api: Client, envId: string) =>
    (await api.ok<ProjectView>('GET', `/api/projects/${project.id}`)).environments.find(
      (e) => e.id === envId,
    )!;
  return { server, admin, project, dev, test, uat, staging, prod, envOf };
}

const scheduled = (api: Client, id: string) =>
  api.ok<ScheduledResult>('GET', `/api/scheduled/${id}`).then((r) => r.scheduled);

describe('SCHED scheduled releases', () => {
  it('SCHED-1 SCHED-2 a scheduled publish is stored bound to the synced snapshot, listed, and at its time goes live once, recorded with detail.scheduledId and the scheduler as actor', async () => {
    const p = await pipeline();
    const synced = (await p.envOf(p.admin, p.prod)).snapshotId!;
    const { status, body } = await p.admin.call<ScheduledResult>(
      'POST',
      `/api/environments/${p.prod}/publish`,
      { at: inMs(1500), confirmMissingSecrets: true, message: 'Friday release' },
    );
    expect(status).toBe(202);
    expect(body.scheduled).toMatchObject({
      environmentId: p.prod,
      kind: 'publish',
      snapshotId: synced,
      state: 'pending',
    });
    const list = await p.admin.ok<ScheduledList>('GET', `/api/environments/${p.prod}/scheduled`);
    expect(list.scheduled.map((s) => s.id)).toEqual([body.scheduled.id]);
    expect(Object.values(list.users)).toEqual(['Ada']);
    // Nothing is live before its time.
    expect((await p.envOf(p.admin, p.prod)).liveSnapshotId ?? null).toBeNull();
    await expect
      .poll(async () => (await scheduled(p.admin, body.scheduled.id)).state, { timeout: 10_000 })
      .toBe('done');
    expect((await p.envOf(p.admin, p.prod)).liveSnapshotId).toBe(synced);
    const { history } = await p.admin.ok<History>('GET', `/api/environments/${p.prod}/history`);
    const publishes = history.filter((h) => h.kind === 'publish');
    expect(publishes).toHaveLength(1);
    expect(publishes[0]!.detail.scheduledId).toBe(body.scheduled.id);
    expect(publishes[0]!.actorId).toBe(body.scheduled.createdBy);
    expect(
      (await p.admin.ok<ScheduledList>('GET', `/api/environments/${p.prod}/scheduled`)).scheduled,
    ).toEqual([]);
  });

  it('SCHED-1 a time in the past, malformed or more than 90 days ahead: 400 invalid_body, nothing stored', async () => {
    const p = await pipeline();
    for (const at of [inMs(-1000), 'tomorrow', inMs(91 * 24 * 3600 * 1000)]) {
      const { status, body } = await p.admin.call<Err>(
        'POST',
        `/api/environments/${p.prod}/publish`,
        { at },
      );
      expect(status).toBe(400);
      expect(body.error.id).toBe('invalid_body');
    }
    expect(
      (await p.admin.ok<ScheduledList>('GET', `/api/environments/${p.prod}/scheduled`)).scheduled,
    ).toEqual([]);
  });

  it('SCHED-1 a scheduled Sync out of the authoring stage freezes now and moves exactly that snapshot at its time, not what the draft became', async () => {
    const p = await pipeline();
    const blank = await newProject(p.admin, { name: 'Blank' });
    const [bdev, btest] = blank.environments.map((e) => e.id) as [string, string];
    const { status, body } = await p.admin.call<ScheduledResult>(
      'POST',
      `/api/environments/${bdev}/sync`,
      { at: inMs(1500) },
    );
    expect(status).toBe(202);
    expect(body.scheduled.kind).toBe('sync');
    // The draft changes after it was scheduled: the sample's content replaces it.
    const file = await p.admin.raw(`/api/environments/${p.dev}/content`, {
      headers: { authorization: `Bearer ${p.admin.token}` },
    });
    const put = await p.admin.call('PUT', `/api/environments/${bdev}/content`, await file.json());
    expect(put.status).toBe(200);
    await expect
      .poll(async () => (await scheduled(p.admin, body.scheduled.id)).state, { timeout: 10_000 })
      .toBe('done');
    const moved = (
      await p.admin.ok<ProjectView>('GET', `/api/projects/${blank.id}`)
    ).environments.find((e) => e.id === btest)!.snapshotId;
    expect(moved).toBe(body.scheduled.snapshotId);
    // What moved is the blank draft as it was when scheduled, not the sample it became.
    const snap = await p.admin.ok<{ content: { agents: Record<string, unknown> } }>(
      'GET',
      `/api/snapshots/${moved}?project=${blank.id}`,
    );
    expect(snap.content.agents).toEqual({});
    const { history } = await p.admin.ok<History>('GET', `/api/environments/${btest}/history`);
    expect(history.map((h) => [h.kind, h.detail.scheduledId])).toEqual([
      ['sync', body.scheduled.id],
    ]);
  });

  it('SCHED-3 it runs once after a restart: stopped before its time, started again on the same data folder after it, it goes live once', async () => {
    const first = await pipeline();
    const synced = (await first.envOf(first.admin, first.prod)).snapshotId!;
    const at = Date.now() + 1500;
    const { body } = await first.admin.call<ScheduledResult>(
      'POST',
      `/api/environments/${first.prod}/publish`,
      { at: new Date(at).toISOString(), confirmMissingSecrets: true },
    );
    await first.server.close();
    // Wait, with no server running, until it is due.
    await new Promise((r) => setTimeout(r, Math.max(0, at - Date.now()) + 100));
    const second = await testServer(cleanup, {}, first.server.dataDir);
    const admin = overTheWire(second.url, first.admin.token);
    await expect
      .poll(async () => (await scheduled(admin, body.scheduled.id)).state, { timeout: 10_000 })
      .toBe('done');
    expect((await first.envOf(admin, first.prod)).liveSnapshotId).toBe(synced);
    const { history } = await admin.ok<History>('GET', `/api/environments/${first.prod}/history`);
    expect(history.filter((h) => h.kind === 'publish')).toHaveLength(1);
  });

  it('SCHED-3 two processes on one database: both timers fire, it goes live once', async () => {
    const p = await pipeline();
    const { body } = await p.admin.call<ScheduledResult>(
      'POST',
      `/api/environments/${p.prod}/publish`,
      { at: inMs(1500), confirmMissingSecrets: true },
    );
    // A second process on the same data folder: at start its timer is armed for the same time.
    // On PostgreSQL it is a process of its own, so it has a NODE_ID of its own (PG-59).
    const other = await testServer(
      cleanup,
      onPostgres ? { NODE_ID: 'n-second' } : {},
      p.server.dataDir,
    );
    const otherAdmin = overTheWire(other.url, p.admin.token);
    await expect
      .poll(async () => (await scheduled(p.admin, body.scheduled.id)).state, { timeout: 10_000 })
      .toBe('done');
    const { history } = await otherAdmin.ok<History>('GET', `/api/environments/${p.prod}/history`);
    expect(history.filter((h) => h.kind === 'publish')).toHaveLength(1);
  });

  it('SCHED-4 it refuses when its required check turned red: failed with checks_failed, nothing moved, a schedule event', async () => {
    const p = await pipeline();
    const synced = (await p.envOf(p.admin, p.prod)).snapshotId!;
    await p.admin.ok('PUT', `/api/environments/${p.prod}/gate`, {
      requiredApprovals: 0,
      requiredChecks: ['evals'],
    });
    await p.admin.ok('POST', `/api/environments/${p.prod}/checks`, {
      snapshotId: synced,
      name: 'evals',
      state: 'success',
    });
    const { body } = await p.admin.call<ScheduledResult>(
      'POST',
      `/api/environments/${p.prod}/publish`,
      { at: inMs(1500), confirmMissingSecrets: true },
    );
    await p.admin.ok('POST', `/api/environments/${p.prod}/checks`, {
      snapshotId: synced,
      name: 'evals',
      state: 'failure',
    });
    await expect
      .poll(async () => (await scheduled(p.admin, body.scheduled.id)).state, { timeout: 10_000 })
      .toBe('failed');
    expect((await scheduled(p.admin, body.scheduled.id)).error?.id).toBe('checks_failed');
    expect((await p.envOf(p.admin, p.prod)).liveSnapshotId ?? null).toBeNull();
    // The project event webhooks will hang on (release.schedule_failed).
    const events = await stored(p.server).all<{ subject: string }>(
      `SELECT subject FROM project_events WHERE kind = 'schedule' ORDER BY seq`,
    );
    expect(events.map((e) => JSON.parse(e.subject) as unknown)).toEqual([
      { scheduledId: body.scheduled.id, state: 'pending' },
      { scheduledId: body.scheduled.id, state: 'failed', errorId: 'checks_failed' },
    ]);
  });

  it('SCHED-4 it refuses when the target moved since it was scheduled: failed with target_moved, the interactive release stands alone', async () => {
    const p = await pipeline();
    const { body } = await p.admin.call<ScheduledResult>(
      'POST',
      `/api/environments/${p.prod}/publish`,
      { at: inMs(1500), confirmMissingSecrets: true },
    );
    await p.admin.ok('POST', `/api/environments/${p.prod}/publish`, {
      confirmMissingSecrets: true,
    });
    await expect
      .poll(async () => (await scheduled(p.admin, body.scheduled.id)).state, { timeout: 10_000 })
      .toBe('failed');
    expect((await scheduled(p.admin, body.scheduled.id)).error?.id).toBe('target_moved');
    const { history } = await p.admin.ok<History>('GET', `/api/environments/${p.prod}/history`);
    expect(history.filter((h) => h.kind === 'publish')).toHaveLength(1);
  });

  it('SCHED-4 a scheduled Sync out of a pointer stage refuses when that stage moved since: failed with source_moved, the target unchanged', async () => {
    const p = await pipeline();
    const other = await newProject(p.admin, { name: 'Other', sample: true });
    const [bdev, btest, buat] = other.environments.map((e) => e.id) as [string, string, string];
    await p.admin.ok('POST', `/api/environments/${bdev}/sync`, {});
    const { body } = await p.admin.call<ScheduledResult>(
      'POST',
      `/api/environments/${btest}/sync`,
      { at: inMs(1500) },
    );
    // TEST takes other content before its time.
    const file = toWorkspaceFile(sampleContent(), { project: 'S' });
    file.content.agents.agt_support!.instructions += ' Be brief.';
    await p.admin.ok('PUT', `/api/environments/${bdev}/content`, file);
    await p.admin.ok('POST', `/api/environments/${bdev}/sync`, {});
    await expect
      .poll(async () => (await scheduled(p.admin, body.scheduled.id)).state, { timeout: 10_000 })
      .toBe('failed');
    expect((await scheduled(p.admin, body.scheduled.id)).error?.id).toBe('source_moved');
    const uat = (
      await p.admin.ok<ProjectView>('GET', `/api/projects/${other.id}`)
    ).environments.find((e) => e.id === buat)!;
    expect(uat.snapshotId).toBeNull();
  });

  it('SCHED-7 cancel: a cancelled one never runs and leaves the list; cancelling again is 404', async () => {
    const p = await pipeline();
    const { body } = await p.admin.call<ScheduledResult>(
      'POST',
      `/api/environments/${p.prod}/publish`,
      { at: inMs(1200), confirmMissingSecrets: true },
    );
    expect((await p.admin.call('DELETE', `/api/scheduled/${body.scheduled.id}`)).status).toBe(204);
    expect((await p.admin.call('DELETE', `/api/scheduled/${body.scheduled.id}`)).status).toBe(404);
    expect(
      (await p.admin.ok<ScheduledList>('GET', `/api/environments/${p.prod}/scheduled`)).scheduled,
    ).toEqual([]);
    // A second one, due after it, runs: by then the cancelled one's time has passed and it stayed cancelled.
    const later = await p.admin.call<ScheduledResult>(
      'POST',
      `/api/environments/${p.prod}/publish`,
      { at: inMs(1800), confirmMissingSecrets: true },
    );
    await expect
      .poll(async () => (await scheduled(p.admin, later.body.scheduled.id)).state, {
        timeout: 10_000,
      })
      .toBe('done');
    expect((await scheduled(p.admin, body.scheduled.id)).state).toBe('cancelled');
    const { history } = await p.admin.ok<History>('GET', `/api/environments/${p.prod}/history`);
    expect(history.filter((h) => h.kind === 'publish').map((h) => h.detail.scheduledId)).toEqual([
      later.body.scheduled.id,
    ]);
  });

  it('SCHED-8 authorization: only who may make the move schedules or cancels it; outsiders see 404', async () => {
    const p = await pipeline();
    const viewer = await newUser(p.admin, 'viewer@example.com', 'Vera Viewer');
    const outsider = await newUser(p.admin, 'out@example.com', 'Otto Outsider');
    await p.admin.ok('PUT', `/api/projects/${p.project.id}/members/${viewer.id}`, {
      roles: { [p.prod]: ['viewer'] },
    });
    const at = inMs(60_000);
    const refused = await viewer.call<Err>('POST', `/api/environments/${p.prod}/publish`, { at });
    expect(refused.status).toBe(403);
    expect(
      (await outsider.call<Err>('POST', `/api/environments/${p.prod}/publish`, { at })).status,
    ).toBe(404);
    const { body } = await p.admin.call<ScheduledResult>(
      'POST',
      `/api/environments/${p.prod}/publish`,
      { at, confirmMissingSecrets: true },
    );
    // The viewer reads the list, may not cancel; an outsider sees nothing.
    expect(
      (await viewer.ok<ScheduledList>('GET', `/api/environments/${p.prod}/scheduled`)).scheduled,
    ).toHaveLength(1);
    expect((await viewer.call('DELETE', `/api/scheduled/${body.scheduled.id}`)).status).toBe(403);
    expect((await outsider.call('DELETE', `/api/scheduled/${body.scheduled.id}`)).status).toBe(404);
    expect((await outsider.call('GET', `/api/scheduled/${body.scheduled.id}`)).status).toBe(404);
    expect((await outsider.call('GET', `/api/environments/${p.prod}/scheduled`)).status).toBe(404);
    // Freeze windows: project admins only.
    expect(
      (await viewer.call('PUT', `/api/environments/${p.prod}/freeze`, { windows: [] })).status,
    ).toBe(403);
  });
});

describe('SCHED freeze windows', () => {
  const window = (reason = 'launch week') => ({
    from: inMs(-3600_000),
    to: inMs(3600_000),
    reason,
  });

  it('SCHED-5 a Sync into a frozen environment: 409 frozen with until and reason, nothing moved; bad windows: 400', async () => {
    const p = await pipeline();
    const w = window();
    const put = await p.admin.ok<FreezeView>('PUT', `/api/environments/${p.test}/freeze`, {
      windows: [w],
    });
    expect(put.windows).toEqual([{ from: w.from, to: w.to, reason: 'launch week' }]);
    expect(await p.admin.ok<FreezeView>('GET', `/api/environments/${p.test}/freeze`)).toEqual(put);
    const before = (await p.envOf(p.admin, p.test)).snapshotId;
    const { status, body } = await p.admin.call<Err>('POST', `/api/environments/${p.dev}/sync`, {
      expectedTargetSnapshotId: before,
    });
    expect(status).toBe(409);
    expect(body.error.id).toBe('frozen');
    expect(body.error.details).toEqual({ until: w.to, reason: 'launch week' });
    expect((await p.envOf(p.admin, p.test)).snapshotId).toBe(before);
    for (const bad of [
      { windows: [{ from: w.to, to: w.from }] },
      { windows: Array.from({ length: 51 }, () => w) },
      { windows: [{ from: 'soon', to: w.to }] },
    ])
      expect((await p.admin.call('PUT', `/api/environments/${p.test}/freeze`, bad)).status).toBe(
        400,
      );
  });

  it('SCHED-5 a Publish in a frozen production: 409 frozen; a scheduled publish whose time falls in a window fails with frozen', async () => {
    const p = await pipeline();
    const { body } = await p.admin.call<ScheduledResult>(
      'POST',
      `/api/environments/${p.prod}/publish`,
      { at: inMs(1500), confirmMissingSecrets: true },
    );
    await p.admin.ok('PUT', `/api/environments/${p.prod}/freeze`, { windows: [window()] });
    const now = await p.admin.call<Err>('POST', `/api/environments/${p.prod}/publish`, {
      confirmMissingSecrets: true,
    });
    expect(now.status).toBe(409);
    expect(now.body.error.id).toBe('frozen');
    await expect
      .poll(async () => (await scheduled(p.admin, body.scheduled.id)).state, { timeout: 10_000 })
      .toBe('failed');
    expect((await scheduled(p.admin, body.scheduled.id)).error?.id).toBe('frozen');
    expect((await p.envOf(p.admin, p.prod)).liveSnapshotId ?? null).toBeNull();
  });

  it('SCHED-6 a hotfix publish in a freeze window needs overrideFreeze: without it 409 frozen, with it published and recorded', async () => {
    const p = await pipeline();
    await p.admin.ok('POST', `/api/environments/${p.prod}/publish`, {
      confirmMissingSecrets: true,
    });
    await p.admin.ok('POST', `/api/environments/${p.prod}/hotfix`);
    await p.admin.ok('PUT', `/api/environments/${p.prod}/freeze`, { windows: [window()] });
    const refused = await p.admin.call<Err>('POST', `/api/environments/${p.prod}/hotfix/publish`, {
      message: 'store closed',
    });
    expect(refused.status).toBe(409);
    expect(refused.body.error.id).toBe('frozen');
    expect(
      (
        await p.admin.call('POST', `/api/environments/${p.prod}/hotfix/publish`, {
          message: 'store closed',
          overrideFreeze: true,
        })
      ).status,
    ).toBe(200);
    const { history } = await p.admin.ok<History>('GET', `/api/environments/${p.prod}/history`);
    expect(history.find((h) => h.kind === 'hotfix')?.detail.overrideFreeze).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import type { BoardView, RuntimesView } from '#schema/api.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { newUser } from '../helpers/fixture.ts';
import { runtimeProject } from '../helpers/runtime-project.ts';
import { openStream } from '../helpers/sse.ts';

const cleanup = cleanupAfterEach();

describe('[RTC-8] GET /api/environments/:envId/runtimes: what each runtime instance serves', () => {
  it('RTC-8 lists the instances by name with what they serve, when they picked up the live snapshot and whether they stream; RTC-9 the board says the oldest pickup', async () => {
    const { server, admin, project, prod, key, change, publish, live } =
      await runtimeProject(cleanup);
    const url = `${server.url}/api/delivery/${prod.id}`;
    const as = (name: string, etag?: string) =>
      fetch(url, {
        headers: {
          authorization: `Bearer ${key}`,
          'stagecoach-runtime': name,
          ...(etag ? { 'if-none-match': etag } : {}),
        },
      });
    const runtimes = () => admin.ok<RuntimesView>('GET', `/api/environments/${prod.id}/runtimes`);
    const board = async () =>
      (await admin.ok<BoardView>('GET', `/api/projects/${project.id}/board`)).stages.find(
        (s) => s.environmentId === prod.id,
      )!.runtimes!;

    const empty = await runtimes();
    expect(empty.runtimes).toEqual([]);
    expect(empty.liveSnapshotId).toBe(await live());
    expect(Date.parse(empty.publishedAt!)).toBeLessThanOrEqual(Date.now());
    expect(await board()).toEqual({ total: 0, onLive: 0, oldestPickupMs: null });

    const etag = (await as('web-b')).headers.get('etag')!;
    await (await as('web-a', etag)).arrayBuffer();
    const stream = await openStream(`${url}/events`, key, {});
    cleanup.push(() => stream.close());
    // The stream's instance has no snapshot until it reports one.
    const streamed = await fetch(`${url}/events`, {
      headers: { authorization: `Bearer ${key}`, 'stagecoach-runtime': 'web-c' },
    });
    cleanup.push(() => streamed.body?.cancel());
    const first = await runtimes();
    expect(first.runtimes.map((r) => [r.instance, r.snapshotId, r.streaming])).toEqual([
      ['web-a', first.liveSnapshotId, false],
      ['web-b', first.liveSnapshotId, false],
      ['web-c', null, true],
    ]);
    for (const r of first.runtimes.slice(0, 2)) {
      expect(Date.parse(r.pickedUpAt!)).toBeGreaterThanOrEqual(Date.parse(first.publishedAt!));
      expect(Date.parse(r.lastSeenAt)).toBeGreaterThanOrEqual(Date.parse(r.pickedUpAt!));
    }
    expect(first.runtimes[2]!.pickedUpAt).toBeNull();
    expect(await board()).toMatchObject({ total: 3, onLive: 2 });

    // A Publish: nobody is on it; web-a picks it up, web-b stays behind.
    await change();
    await publish();
    const moved = await runtimes();
    expect(moved.liveSnapshotId).toBe(await live());
    expect(moved.liveSnapshotId).not.toBe(first.liveSnapshotId);
    expect(moved.runtimes.map((r) => r.pickedUpAt)).toEqual([null, null, null]);
    expect(await board()).toEqual({ total: 3, onLive: 0, oldestPickupMs: null });
    const res = await as('web-a', etag);
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    const picked = await runtimes();
    const a = picked.runtimes.find((r) => r.instance === 'web-a')!;
    expect(a.snapshotId).toBe(moved.liveSnapshotId);
    const pickup = Date.parse(a.pickedUpAt!) - Date.parse(picked.publishedAt!);
    // How long it took (the figure's arithmetic is unit-tested with a clock: rtc-pickup).
    expect(pickup).toBeGreaterThanOrEqual(0);
    expect(picked.runtimes.find((r) => r.instance === 'web-b')!.pickedUpAt).toBeNull();
    const onBoard = await board();
    expect(onBoard).toMatchObject({ total: 3, onLive: 1 });
    expect(onBoard.oldestPickupMs).toBeGreaterThanOrEqual(0);
    expect(onBoard.oldestPickupMs).toBeLessThan(30_000);
  });

  it('RTC-8 readers of the environment only: no token 401, no role there 404 or 403; never a key in the answer', async () => {
    const { server, admin, project, prod, key } = await runtimeProject(cleanup);
    const path = `/api/environments/${prod.id}/runtimes`;
    await fetch(`${server.url}/api/delivery/${prod.id}`, {
      headers: { authorization: `Bearer ${key}`, 'stagecoach-runtime': 'web-1' },
    });
    expect((await fetch(`${server.url}${path}`)).status).toBe(401);
    // The runtime key is not a user token.
    expect(
      (await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${key}` } })).status,
    ).toBe(401);
    const outsider = await newUser(admin, 'out@example.com', 'Otto Outsider');
    expect([403, 404]).toContain((await outsider.call('GET', path)).status);
    const dev = project.environments[0]!.id;
    const devOnly = await newUser(admin, 'dev@example.com', 'Dee Dev');
    await admin.ok('PUT', `/api/projects/${project.id}/members/${devOnly.id}`, {
      roles: { [dev]: ['viewer'] },
    });
    expect([403, 404]).toContain((await devOnly.call('GET', path)).status);
    const reader = await newUser(admin, 'reader@example.com', 'Rita Reader');
    await admin.ok('PUT', `/api/projects/${project.id}/members/${reader.id}`, {
      roles: { [prod.id]: ['viewer'] },
    });
    const seen = await reader.ok<RuntimesView>('GET', path);
    expect(seen.runtimes.map((r) => r.instance)).toEqual(['web-1']);
    expect(JSON.stringify(seen)).not.toContain(key);
    expect((await admin.call('GET', '/api/environments/env_nope/runtimes')).status).toBe(404);
  });
});

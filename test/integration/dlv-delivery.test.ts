import { describe, expect, it } from 'vitest';
import type { DeliveryEvent, ProjectView } from '#schema/api.ts';
import type { WorkspaceContent } from '#schema/content/ydoc.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { runtimeProject } from '../helpers/runtime-project.ts';
import { openEvents, openStream, type SseMessage } from '../helpers/sse.ts';

const cleanup = cleanupAfterEach();

/**
 * The runtime project (test/helpers/runtime-project.ts) with delivery requests and streams as a
 * runtime, aborted with the test.
 */
async function setup(env: Record<string, string> = {}) {
  const base = await runtimeProject(cleanup, env);
  const { server, prod, key, live: liveNow } = base;
  /** A delivery request as a runtime (`etag` → If-None-Match); aborts with the test. */
  const url = `${server.url}/api/delivery/${prod.id}`;
  const request = (
    query = '',
    opts: { etag?: string; key?: string; signal?: AbortSignal } = {},
  ) => {
    const abort = new AbortController();
    cleanup.push(() => abort.abort());
    return fetch(`${url}${query}`, {
      headers: {
        authorization: `Bearer ${opts.key ?? key}`,
        ...(opts.etag ? { 'if-none-match': opts.etag } : {}),
      },
      signal: opts.signal ?? abort.signal,
    });
  };
  /** `get.url`, `get.key`: the delivery URL and the runtime key, for requests with other headers. */
  const get = Object.assign(request, { url, key });
  const stream = async (lastEventId?: string, k = key) => {
    const s = await openStream(`${server.url}/api/delivery/${prod.id}/events`, k, {
      lastEventId,
    });
    cleanup.push(() => s.close());
    return s;
  };
  /** Production's live snapshot now; `live.first`: the one published by setup. */
  const live = Object.assign(liveNow, { first: await liveNow() });
  return { ...base, get, stream, live };
}

type Board = { stages: { environmentId: string; runtimes?: { total: number; onLive: number } }[] };

const dataOf = (m: SseMessage | null) => JSON.parse(m!.data) as DeliveryEvent;

describe('[DLV-1] long-poll: GET /api/delivery/:envId?wait=', () => {
  it('DLV-1 a waiting request with the current ETag is answered 200 with the new body when a Publish moves live', async () => {
    const { get, change, publish } = await setup();
    const first = await get();
    const etag = first.headers.get('etag')!;
    const before = first.headers.get('stagecoach-snapshot');
    await change();
    const waiting = get('?wait=60', { etag });
    await publish();
    const res = await waiting;
    expect(res.status).toBe(200);
    const body = (await res.json()) as { snapshotId: string; content: WorkspaceContent };
    expect(res.headers.get('etag')).not.toBe(etag);
    expect(body.snapshotId).not.toBe(before);
    expect(res.headers.get('stagecoach-snapshot')).toBe(body.snapshotId);
    expect(Object.values(body.content.knowledge).map((a) => a.title)).toContain('Edited 1');
  });

  it('DLV-1 a variable override change wakes it too (same snapshot, next overlay revision)', async () => {
    const { get, admin, prod } = await setup();
    const first = await get();
    const etag = first.headers.get('etag')!;
    const revision = Number(first.headers.get('stagecoach-overlay-revision'));
    const waiting = get('?wait=60', { etag });
    await admin.ok('PUT', `/api/environments/${prod.id}/variables/company`, { value: 'Woken Ltd' });
    const res = await waiting;
    expect(res.status).toBe(200);
    expect(res.headers.get('stagecoach-snapshot')).toBe(first.headers.get('stagecoach-snapshot'));
    expect(Number(res.headers.get('stagecoach-overlay-revision'))).toBe(revision + 1);
    const body = (await res.json()) as { variables: Record<string, { value: unknown }> };
    expect(body.variables.company!.value).toBe('Woken Ltd');
  });

  it('DLV-1 nothing changing: 304 when the wait ends; a stale ETag or no ETag answers at once; bad waits are refused', async () => {
    const { get } = await setup();
    const first = await get();
    const etag = first.headers.get('etag')!;
    const res = await get('?wait=1', { etag });
    expect(res.status).toBe(304);
    expect(res.headers.get('etag')).toBe(etag);
    expect((await get('?wait=60', { etag: '"old.0"' })).status).toBe(200);
    expect((await get('?wait=60')).status).toBe(200);
    for (const wait of ['0', '61', '1.5', 'x', '', '-1', '0060']) {
      const bad = await get(`?wait=${wait}`, { etag });
      expect([wait, bad.status]).toEqual([wait, 400]);
      expect(((await bad.json()) as { error: { id: string } }).error.id).toBe('invalid_body');
    }
  });

  it('DLV-1 a refused Publish wakes no one with a new ETag: the next answer is the override that follows it', async () => {
    const { get, admin, prod, change } = await setup();
    await change();
    const first = await get();
    const etag = first.headers.get('etag')!;
    const waiting = get('?wait=60', { etag });
    // Without confirming the missing secret, production refuses: nothing moves, nothing is emitted.
    const refused = await admin.call('POST', `/api/environments/${prod.id}/publish`, {});
    expect(refused.status).toBe(409);
    await admin.ok('PUT', `/api/environments/${prod.id}/variables/company`, { value: 'After' });
    const res = await waiting;
    expect(res.status).toBe(200);
    expect(res.headers.get('stagecoach-snapshot')).toBe(first.headers.get('stagecoach-snapshot'));
  });

  it('DLV-2 bounds: waiting requests per runtime key and per process answer 429 too_many_connections; a client that goes away frees its place', async () => {
    const { get, keyFor, stream, admin, project } = await setup({
      DELIVERY_WAITS_PER_KEY: '1',
      DELIVERY_WAITS: '2',
    });
    const etag = (await get()).headers.get('etag')!;
    const refusal = async (res: Response) => [
      res.status,
      ((await res.json()) as { error: { id: string; details: { limit: string } } }).error,
    ];
    // An open event stream holds a place (it has taken it once its headers arrived).
    const open = await stream();
    expect(open.status).toBe(200);
    expect(await refusal(await get('?wait=60', { etag }))).toEqual([
      429,
      expect.objectContaining({
        id: 'too_many_connections',
        details: { limit: 'DELIVERY_WAITS_PER_KEY', max: 1 },
      }),
    ]);
    expect((await stream()).status).toBe(429);
    // Answering at once takes no place.
    expect((await get('', { etag })).status).toBe(304);

    const second = await keyFor('second');
    const third = await keyFor('third');
    expect((await stream(undefined, second)).status).toBe(200);
    expect(await refusal(await get('?wait=60', { etag, key: third }))).toEqual([
      429,
      expect.objectContaining({ details: { limit: 'DELIVERY_WAITS', max: 2 } }),
    ]);

    // The stream goes away: its place is free again (the server sees the close on its next turn).
    open.close();
    await expect
      .poll(async () => (await get('?wait=1', { etag })).status, { timeout: 5000 })
      .toBe(304);

    // A long-poll holds a place too, and frees it when its client goes away.
    // It names itself (DLV-6), so the board says when the server holds it.
    const abort = new AbortController();
    const held = fetch(`${get.url}?wait=60`, {
      headers: {
        authorization: `Bearer ${get.key}`,
        'if-none-match': etag,
        'stagecoach-runtime': 'holder',
      },
      signal: abort.signal,
    }).catch(() => null);
    await expect
      .poll(
        async () =>
          (await admin.ok<Board>('GET', `/api/projects/${project.id}/board`)).stages.at(-1)!
            .runtimes!.total,
      )
      .toBe(1);
    expect((await get('?wait=1', { etag })).status).toBe(429);
    abort.abort();
    expect(await held).toBeNull();
    await expect
      .poll(async () => (await get('?wait=1', { etag })).status, { timeout: 5000 })
      .toBe(304);
  });
});

describe('[DLV-3] the delivery event stream', () => {
  it('DLV-3 sends what is delivered at once, then each Publish (etag, snapshot, overlay revision, time), and answers without a key 401', async () => {
    const { stream, change, publish, get, server, prod } = await setup();
    const s = await stream();
    expect(s.status).toBe(200);
    expect(s.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const now = await get();
    const first = await s.next();
    expect(dataOf(first)).toEqual({
      etag: now.headers.get('etag'),
      snapshotId: now.headers.get('stagecoach-snapshot'),
      overlayRevision: Number(now.headers.get('stagecoach-overlay-revision')),
      publishedAt: expect.any(Number) as number,
    });
    expect(Number(first!.id)).toBeGreaterThan(0);

    await change();
    await publish();
    const next = await s.next();
    expect(dataOf(next).snapshotId).not.toBe(dataOf(first).snapshotId);
    expect(dataOf(next).etag).toBe((await get()).headers.get('etag'));
    expect(dataOf(next).publishedAt).toBeGreaterThanOrEqual(dataOf(first).publishedAt!);
    expect(Number(next!.id)).toBeGreaterThan(Number(first!.id));

    const anonymous = await openStream(`${server.url}/api/delivery/${prod.id}/events`, '');
    expect(anonymous.status).toBe(401);
    const wrong = await openStream(`${server.url}/api/delivery/${prod.id}/events`, 'sk_nope');
    expect(wrong.status).toBe(401);
  });

  it('DLV-3 resumes with Last-Event-ID: nothing when the client already has what is delivered, the new state at once when it changed meanwhile', async () => {
    const { stream, admin, prod } = await setup();
    const s = await stream();
    const first = (await s.next())!;
    s.close();

    // Resumed with the id it saw, nothing changed: no message (the next one is the override's).
    const same = await stream(first.id!);
    await admin.ok('PUT', `/api/environments/${prod.id}/variables/company`, { value: 'One' });
    const woke = await same.next();
    expect(dataOf(woke).overlayRevision).toBe(dataOf(first).overlayRevision + 1);
    same.close();

    // Resumed from the first id after a change it missed: the current state at once.
    const behind = await stream(first.id!);
    const caughtUp = await behind.next();
    expect(dataOf(caughtUp)).toEqual(dataOf(woke));

    // An id this process never sent (a restart): the current state, at once.
    const unknown = await stream('999999');
    expect(dataOf(await unknown.next()).etag).toBe(dataOf(woke).etag);
  });

  it('DLV-3 a refused Publish sends nothing: the next message is the override that follows it', async () => {
    const { stream, admin, prod, change } = await setup();
    await change();
    const s = await stream();
    const first = dataOf(await s.next());
    expect((await admin.call('POST', `/api/environments/${prod.id}/publish`, {})).status).toBe(409);
    await admin.ok('PUT', `/api/environments/${prod.id}/variables/company`, { value: 'After' });
    const next = dataOf(await s.next());
    expect([next.snapshotId, next.overlayRevision]).toEqual([
      first.snapshotId,
      first.overlayRevision + 1,
    ]);
  });

  it('DLV-3 the stream ends when its runtime key is deleted', async () => {
    const { stream, admin, prod } = await setup();
    const s = await stream();
    await s.next();
    const { keys } = await admin.ok<{ keys: { id: string }[] }>(
      'GET',
      `/api/environments/${prod.id}/runtime-keys`,
    );
    for (const k of keys)
      await admin.ok('DELETE', `/api/environments/${prod.id}/runtime-keys/${k.id}`);
    expect(await s.next()).toBeNull();
  });
});

describe('[DLV-4] pinned reads: GET /api/delivery/:envId?snapshot=', () => {
  it('DLV-4 serves a snapshot that was live in production, with the current overlay; a snapshot never live there is 404 like an unknown one', async () => {
    const { get, change, publish, live, admin, prod, project } = await setup();
    const formerly = await live();
    await admin.ok('PUT', `/api/environments/${prod.id}/variables/company`, { value: 'Overlay' });
    await change();
    // The first stage's newest snapshot was never live in production.
    const neverLive = (await admin.ok<ProjectView>('GET', `/api/projects/${project.id}`))
      .environments[0]!.snapshotId!;
    await publish();
    const now = await live();
    expect(now).not.toBe(formerly);

    const pinned = await get(`?snapshot=${formerly}`);
    expect(pinned.status).toBe(200);
    expect(pinned.headers.get('stagecoach-snapshot')).toBe(formerly);
    const body = (await pinned.json()) as {
      snapshotId: string;
      variables: Record<string, { value: unknown }>;
      content: WorkspaceContent;
    };
    expect(body.snapshotId).toBe(formerly);
    expect(body.variables.company!.value).toBe('Overlay');
    expect(Object.values(body.content.knowledge).map((a) => a.title)).not.toContain('Edited 1');
    // Its ETag works with If-None-Match like any other.
    expect((await get(`?snapshot=${formerly}`, { etag: pinned.headers.get('etag')! })).status).toBe(
      304,
    );
    // The current one pinned is the current answer.
    expect((await get(`?snapshot=${now}`)).headers.get('etag')).toBe(
      (await get()).headers.get('etag'),
    );

    for (const id of [neverLive, 'snap_unknown', 'x'.repeat(500)]) {
      const res = await get(`?snapshot=${id}`);
      expect(res.status).toBe(404);
      expect((await res.json()) as object).toEqual({
        error: expect.objectContaining({ id: 'snapshot_not_found' }) as object,
      });
    }
    // Without a key of this environment: 401 before anything about snapshots.
    expect((await get(`?snapshot=${formerly}`, { key: 'nope' })).status).toBe(401);
  });
});

describe('[DLV-4] pinned reads in other stages, and after a rollback', () => {
  it('DLV-4 a stage before production serves what its current pointer held; a snapshot that never reached it is 404', async () => {
    const { admin, project, change, server } = await setup();
    const staging = project.environments[3]!;
    const { key } = await admin.ok<{ key: string }>(
      'POST',
      `/api/environments/${staging.id}/runtime-keys`,
      { name: 'staging runtime' },
    );
    const current = async () =>
      (await admin.ok<ProjectView>('GET', `/api/projects/${project.id}`)).environments[3]!
        .snapshotId!;
    const read = (snapshot: string) =>
      fetch(`${server.url}/api/delivery/${staging.id}?snapshot=${snapshot}`, {
        headers: { authorization: `Bearer ${key}` },
      });
    const formerly = await current();
    await change();
    expect(await current()).not.toBe(formerly);
    const pinned = await read(formerly);
    expect([pinned.status, pinned.headers.get('stagecoach-snapshot')]).toEqual([200, formerly]);

    // A new snapshot that stops in TEST never was STAGING's.
    const dev = project.environments[0]!;
    const content = await admin.ok<WorkspaceContent>('GET', `/api/environments/${dev.id}/content`);
    Object.values(content.knowledge)[0]!.title = 'Only in TEST';
    await admin.ok('PUT', `/api/environments/${dev.id}/content`, content);
    await admin.ok('POST', `/api/environments/${dev.id}/sync`, {});
    const inTest = (await admin.ok<ProjectView>('GET', `/api/projects/${project.id}`))
      .environments[1]!.snapshotId!;
    expect((await read(inTest)).status).toBe(404);
  });

  it('DLV-4 a rollback in production wakes the stream, and the snapshot it left stays pinnable', async () => {
    const { admin, prod, stream, change, publish, live, get } = await setup();
    await change();
    await publish();
    const newer = await live();
    const s = await stream();
    expect(dataOf(await s.next()).snapshotId).toBe(newer);
    await admin.ok('POST', `/api/environments/${prod.id}/rollback`, {
      snapshotId: live.first,
      message: 'Back',
    });
    expect(dataOf(await s.next()).snapshotId).toBe(live.first);
    expect((await get(`?snapshot=${newer}`)).status).toBe(200);
  });
});

describe('[DLV-5] every delivery answer names what it serves in headers', () => {
  it('DLV-5 Stagecoach-Snapshot and Stagecoach-Overlay-Revision on 200 and on 304', async () => {
    const { get, live } = await setup();
    const snapshot = await live();
    const res = await get();
    expect(res.status).toBe(200);
    const body = (await res.json()) as { snapshotId: string; overlayRevision: number };
    expect(res.headers.get('stagecoach-snapshot')).toBe(snapshot);
    expect(body.snapshotId).toBe(snapshot);
    expect(res.headers.get('stagecoach-overlay-revision')).toBe(String(body.overlayRevision));
    const again = await get('', { etag: res.headers.get('etag')! });
    expect(again.status).toBe(304);
    expect(again.headers.get('stagecoach-snapshot')).toBe(snapshot);
    expect(again.headers.get('stagecoach-overlay-revision')).toBe(String(body.overlayRevision));
  });
});

describe('[DLV-6] runtimes report what they serve', () => {
  type Board = {
    stages: { environmentId: string; runtimes?: { total: number; onLive: number } }[];
  };

  it('DLV-6 each delivery request with Stagecoach-Runtime counts an instance; the board says how many of them are on the live snapshot', async () => {
    const { get, admin, project, prod, change, publish, live } = await setup();
    const runtimes = async () =>
      (await admin.ok<Board>('GET', `/api/projects/${project.id}/board`)).stages.find(
        (s) => s.environmentId === prod.id,
      )!.runtimes;
    expect(await runtimes()).toMatchObject({ total: 0, onLive: 0 });
    const as = (name: string, query = '', etag?: string) =>
      fetch(`${get.url}${query}`, {
        headers: {
          authorization: `Bearer ${get.key}`,
          'stagecoach-runtime': name,
          ...(etag ? { 'if-none-match': etag } : {}),
        },
      });
    const etag = (await as('web-1')).headers.get('etag')!;
    expect((await as('web-2', '', etag)).status).toBe(304);
    expect((await as('web-3', '', etag)).status).toBe(304);
    expect(await runtimes()).toMatchObject({ total: 3, onLive: 3 });

    // web-1 waits; a Publish wakes it and it is given the new snapshot: 1 of 3 on it.
    await change();
    const waiting = as('web-1', '?wait=60', etag);
    await publish();
    expect((await waiting).headers.get('stagecoach-snapshot')).toBe(await live());
    expect(await runtimes()).toMatchObject({ total: 3, onLive: 1 });
    // A pinned read says nothing about what an instance serves.
    expect((await as('web-2', `?snapshot=${live.first}`)).status).toBe(200);
    expect(await runtimes()).toMatchObject({ total: 3, onLive: 1 });

    for (const bad of ['x'.repeat(65), 'has space', '-lead', 'ünï']) {
      const res = await fetch(get.url, {
        headers: { authorization: `Bearer ${get.key}`, 'stagecoach-runtime': encodeURI(bad) },
      });
      expect([bad, res.status]).toEqual([bad, 400]);
    }
    // Without a key, nothing is counted.
    await fetch(get.url, { headers: { 'stagecoach-runtime': 'intruder' } });
    expect(await runtimes()).toMatchObject({ total: 3, onLive: 1 });
  });

  it('DLV-6 a runtime that appears or picks up another snapshot announces a `runtimes` event in production (open boards refetch)', async () => {
    const { get, admin, project, prod, server } = await setup();
    const events = await openEvents(server.url, project.id, admin.token);
    cleanup.push(() => events.close());
    await fetch(get.url, {
      headers: { authorization: `Bearer ${get.key}`, 'stagecoach-runtime': 'web-1' },
    });
    const seen = await events.until('runtimes');
    expect(JSON.parse(seen.at(-1)!.data) as object).toMatchObject({
      kind: 'runtimes',
      environmentId: prod.id,
    });
  });

  it('DLV-6 bounded per environment: the least recently heard from instance is forgotten', async () => {
    const { get, admin, project, prod } = await setup({ DELIVERY_RUNTIMES_PER_ENVIRONMENT: '2' });
    for (const name of ['a', 'b', 'c', 'd'])
      await fetch(get.url, {
        headers: { authorization: `Bearer ${get.key}`, 'stagecoach-runtime': name },
      });
    const board = await admin.ok<Board>('GET', `/api/projects/${project.id}/board`);
    expect(board.stages.find((s) => s.environmentId === prod.id)!.runtimes).toMatchObject({
      total: 2,
      onLive: 2,
    });
  });
});

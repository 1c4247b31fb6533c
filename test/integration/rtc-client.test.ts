import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BoardView, RuntimesView } from '#schema/api.ts';
import {
  createRuntime,
  type Delivered,
  type RuntimeOptions,
  type RuntimeState,
} from '../../runtime/index.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { runtimeProject } from '../helpers/runtime-project.ts';
import { startTestServer, tempDataDir, type TestServer } from '../helpers/server.ts';
import { openStream } from '../helpers/sse.ts';

const cleanup = cleanupAfterEach();

type Seen = { url: string; headers: Record<string, string> };

/**
 * A runtime client closed by the test's cleanup, with waits on its callbacks (no sleeps) and every
 * request it made. `failStream`: its event stream requests fail like a network error.
 */
function client(
  opts: Omit<RuntimeOptions, 'onChange' | 'onStatus' | 'fetch'>,
  extra: { failStream?: boolean } = {},
) {
  const requests: Seen[] = [];
  const titles: string[] = [];
  const waiters: (() => void)[] = [];
  const poke = () => waiters.splice(0).forEach((w) => w());
  const rt = createRuntime({
    ...opts,
    fetch: (url, init) => {
      requests.push({ url, headers: { ...(init.headers as Record<string, string>) } });
      if (extra.failStream && url.endsWith('/events'))
        return Promise.reject(new TypeError('fetch failed'));
      return fetch(url, init);
    },
    onChange: (d) => {
      titles.push(titleOf(d));
      poke();
    },
    onStatus: poke,
  });
  cleanup.push(() => rt.close());
  /** Resolves once `check` holds (checked now, after each callback, and every 20 ms for lastError). */
  const until = (check: () => boolean) =>
    new Promise<void>((resolve) => {
      const timer = setInterval(() => test(), 20);
      const test = () => {
        if (!check()) return void waiters.push(test);
        clearInterval(timer);
        resolve();
      };
      test();
    });
  const state = (s: RuntimeState) => until(() => rt.status().state === s);
  const title = (t: string) =>
    until(() => rt.current() !== null && titleOf(rt.current()!).split('\n').includes(t));
  return { rt, requests, titles, until, state, title };
}

/** The knowledge articles' titles, one line each (`change()` edits one of them). */
const titleOf = (d: Delivered) =>
  Object.values(d.content.knowledge!)
    .map((a) => (a as { title: string }).title)
    .join('\n');

/** A server on the same data folder and port as `old` (closed by cleanup). */
async function restart(old: TestServer): Promise<TestServer> {
  const again = await startTestServer(old.dataDir, { PORT: String(old.port) });
  cleanup.push(() => again.close());
  return again;
}

describe('[RTC-1] serving from memory, [RTC-2] whole swaps, [RTC-4] naming the instance, [RTC-10] ready()', () => {
  it('RTC-2 a Publish swaps the whole delivered body at once (onChange); readers keep the version they hold; RTC-4 every request names the instance and the board counts it', async () => {
    const { server, admin, project, prod, key, change, publish, live } =
      await runtimeProject(cleanup);
    const c = client({ url: server.url, environmentId: prod.id, key, instance: 'web-1' });
    await c.rt.ready();
    expect(c.rt.status()).toMatchObject({ state: 'fresh' });
    const before = c.rt.current()!;
    const v1 = c.rt.version()!;
    expect(v1.snapshotId).toBe(await live());
    expect(v1.etag).toBe(`"${v1.snapshotId}.${v1.overlayRevision}"`);
    expect(Object.isFrozen(before.content)).toBe(true);
    // RTC-1: reading makes no request.
    const made = c.requests.length;
    for (let i = 0; i < 100; i++) c.rt.current();
    c.rt.version();
    expect(c.requests.length).toBe(made);
    await c.until(() => c.rt.status().via === 'stream');

    const title = await change();
    await publish();
    await c.title(title);
    const after = c.rt.current()!;
    expect(after).not.toBe(before);
    expect(after.snapshotId).toBe(await live());
    expect(c.rt.version()!.snapshotId).toBe(after.snapshotId);
    // The old reference is still the old version, whole.
    expect(titleOf(before)).not.toContain(title);
    expect(before.snapshotId).toBe(v1.snapshotId);
    expect(c.titles.at(-1)).toContain(title);

    for (const r of c.requests) expect(r.headers['stagecoach-runtime']).toBe('web-1');
    const runtimes = await admin.ok<RuntimesView>('GET', `/api/environments/${prod.id}/runtimes`);
    expect(runtimes.runtimes).toMatchObject([
      { instance: 'web-1', snapshotId: after.snapshotId, streaming: true },
    ]);
    const board = await admin.ok<BoardView>('GET', `/api/projects/${project.id}/board`);
    expect(board.stages.at(-1)!.runtimes).toMatchObject({ total: 1, onLive: 1 });
  });

  it('RTC-10 options are checked at once: an instance name the server would refuse, no key', () => {
    expect(() =>
      createRuntime({ url: 'http://127.0.0.1:1', environmentId: 'e', key: 'k', instance: 'a b' }),
    ).toThrow(TypeError);
    expect(() => createRuntime({ url: 'http://127.0.0.1:1', environmentId: 'e', key: '' })).toThrow(
      TypeError,
    );
  });

  it('RTC-10 ready() rejects when the server refuses the key and there is no bootstrap file', async () => {
    const { server, prod } = await runtimeProject(cleanup);
    const c = client({ url: server.url, environmentId: prod.id, key: 'rk_wrong' });
    await expect(c.rt.ready()).rejects.toThrow(/401/);
    expect(c.rt.current()).toBeNull();
    expect(c.rt.status()).toMatchObject({ state: 'starting' });
    expect(c.rt.status().lastError).not.toContain('rk_wrong');
  });
});

describe('[RTC-5] the bootstrap file', () => {
  it('RTC-5 written atomically after each body; served when the server is down at start (bootstrap), then fresh when it comes up', async () => {
    const { server, prod, key, live } = await runtimeProject(cleanup);
    const dir = tempDataDir();
    const file = path.join(dir, 'delivery.json');
    const first = client({ url: server.url, environmentId: prod.id, key, bootstrapFile: file });
    await first.rt.ready();
    const saved = first.rt.current()!;
    await first.rt.close();
    // Written whole (temp file + rename): no temporary file is left behind.
    expect(fs.readdirSync(dir)).toEqual(['delivery.json']);
    const onDisk = JSON.parse(fs.readFileSync(file, 'utf8')) as { body: Delivered; etag: string };
    expect(onDisk.body).toEqual(saved);
    expect(onDisk.etag).toBe(first.rt.version()!.etag);
    expect(fs.statSync(file).mode & 0o077).toBe(0);

    await server.close();
    const c = client({
      url: server.url,
      environmentId: prod.id,
      key,
      bootstrapFile: file,
      maxRetryMs: 1000,
    });
    await c.rt.ready();
    expect(c.rt.status()).toMatchObject({ state: 'bootstrap' });
    expect(c.rt.status().lastError).toBeTruthy();
    expect(c.rt.current()).toEqual(saved);
    expect(c.rt.version()!.snapshotId).toBe(saved.snapshotId);

    await restart(server);
    await c.state('fresh');
    expect(c.rt.version()!.snapshotId).toBe(await live());
  });

  it('RTC-5 a bootstrap file of another environment or not ours is not served', async () => {
    const { server, prod, key } = await runtimeProject(cleanup);
    const file = path.join(tempDataDir(), 'delivery.json');
    const first = client({ url: server.url, environmentId: prod.id, key, bootstrapFile: file });
    await first.rt.ready();
    await first.rt.close();
    await server.close();
    // Were it served, it would be before the stream is tried (right after the first request fails).
    const other = client({ url: server.url, environmentId: 'env_other', key, bootstrapFile: file });
    await other.until(() => other.requests.length >= 2);
    expect(other.rt.current()).toBeNull();
    expect(other.rt.status().state).toBe('starting');
    fs.writeFileSync(file, '{"not": "ours"}');
    const junk = client({ url: server.url, environmentId: prod.id, key, bootstrapFile: file });
    await junk.until(() => junk.requests.length >= 2);
    expect(junk.rt.current()).toBeNull();
    expect(junk.rt.status().state).toBe('starting');
  });
});

describe('[RTC-6] never silently stale', () => {
  it('RTC-6 no contact for staleAfterMs: stale (onStatus); back in contact: fresh; RTC-3 the stream reopens with Last-Event-ID', async () => {
    const { server, prod, key, change, publish } = await runtimeProject(cleanup);
    const c = client({
      url: server.url,
      environmentId: prod.id,
      key,
      staleAfterMs: 1500,
      maxRetryMs: 1000,
    });
    await c.rt.ready();
    await c.until(() => c.rt.status().via === 'stream');
    await server.close();
    await c.state('stale');
    expect(c.rt.status().lastError).toBeTruthy();
    // Still serving what it had.
    expect(c.rt.current()).not.toBeNull();

    const again = await restart(server);
    await c.state('fresh');
    await c.until(() => c.rt.status().via === 'stream');
    const events = c.requests.filter((r) => r.url.endsWith('/events'));
    expect(events[0]!.headers['last-event-id']).toBeUndefined();
    expect(events.at(-1)!.headers['last-event-id']).toMatch(/^\d+$/);
    // And it follows changes again.
    expect(again.url).toBe(server.url);
    const title = await change();
    await publish();
    await c.title(title);
  });
  it('RTC-6 a quiet stream is not taken for a lost one: a conditional GET confirms it at half staleAfterMs', async () => {
    const { server, prod, key } = await runtimeProject(cleanup);
    const c = client({ url: server.url, environmentId: prod.id, key, staleAfterMs: 1000 });
    await c.rt.ready();
    await c.until(() => c.rt.status().via === 'stream');
    const states: RuntimeState[] = [];
    const watch = setInterval(() => states.push(c.rt.status().state), 20);
    const gets = () => c.requests.filter((r) => !r.url.endsWith('/events')).length;
    const before = gets();
    // Nothing changes on the server and its heartbeat is 25 s away: only the probes keep it fresh.
    await c.until(() => gets() >= before + 4);
    clearInterval(watch);
    expect(new Set(states)).toEqual(new Set(['fresh']));
    expect(c.rt.status().via).toBe('stream');
  });
});

describe('[RTC-3] event stream, then long-poll', () => {
  it('RTC-3 when the stream fails it long-polls (and keeps retrying the stream): a Publish still swaps', async () => {
    const { server, prod, key, change, publish } = await runtimeProject(cleanup);
    const c = client(
      { url: server.url, environmentId: prod.id, key, maxRetryMs: 2000 },
      { failStream: true },
    );
    await c.rt.ready();
    await c.until(() => c.rt.status().via === 'long-poll');
    expect(c.rt.status().state).toBe('fresh');
    const title = await change();
    await publish();
    await c.title(title);
    expect(c.requests.some((r) => /\?wait=\d+$/.test(r.url))).toBe(true);
    // The stream is retried (with backoff) meanwhile.
    await c.until(() => c.requests.filter((r) => r.url.endsWith('/events')).length >= 2);
  });

  it('RTC-3 when the server refuses to hold requests for this key (429), it polls plainly and stays fresh', async () => {
    const { server, prod, key, change, publish } = await runtimeProject(cleanup, {
      DELIVERY_WAITS_PER_KEY: '1',
    });
    // Another instance holds the key's one waiting place.
    const holder = await openStream(`${server.url}/api/delivery/${prod.id}/events`, key);
    cleanup.push(() => holder.close());
    const c = client({
      url: server.url,
      environmentId: prod.id,
      key,
      staleAfterMs: 2000,
      maxRetryMs: 60_000,
    });
    await c.rt.ready();
    await c.until(() => c.rt.status().via === 'poll');
    expect(c.rt.status().lastError).toMatch(/429 too_many_connections/);
    const title = await change();
    await publish();
    await c.title(title);
    expect(c.rt.status().state).toBe('fresh');
  });
});

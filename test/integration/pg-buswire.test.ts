import { describe, expect, it } from 'vitest';
import { CLOSE } from '#schema/errors.ts';
import { createClient } from 'redis';
import { createRedisBus, MAX_SENDS_IN_FLIGHT } from '#server/cluster/redis-bus.ts';
import { start } from '#server/start.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { connect, synced, type Client as SyncClient } from '../helpers/clients.ts';
import { newProject, newUser, overTheWire } from '../helpers/fixture.ts';
import { startRedis, type ThrowawayRedis } from '../helpers/redis.ts';
import { pauseRedis } from '../helpers/redis-pause.ts';
import { setupAdmin, tempDataDir, testConfig } from '../helpers/server.ts';
import { openEvents } from '../helpers/sse.ts';

const cleanup = cleanupAfterEach();

/**
 * Two server instances as two processes would run them: one data folder (two connections to one
 * SQLite WAL file: membership and credential reads and writes only), one Redis bus each.
 */
async function twoServers(redis: ThrowawayRedis) {
  const dataDir = tempDataDir();
  const one = async () => {
    const bus = createRedisBus({ url: redis.url });
    const server = await start(testConfig(dataDir), { web: false, bus });
    cleanup.push(() => server.close());
    await bus.ready;
    return { server, bus };
  };
  const a = await one();
  const b = await one();
  const admin = overTheWire(a.server.url, (await setupAdmin(a.server.url)).token);
  const project = await newProject(admin);
  const dev = project.environments[0]!;
  const bob = await newUser(admin, 'bob@example.com', 'Bob');
  await admin.ok('PUT', `/api/projects/${project.id}/members/${bob.id}`, {
    roles: { [dev.id]: ['editor'] },
  });
  return { a, b, admin, project, dev, bob };
}

/** A synced sync socket of `token` to `draftId` on `url`, and the code it is first closed with. */
async function socket(url: string, draftId: string, token: string) {
  const c: SyncClient = connect(url, draftId, { token });
  cleanup.push(() => c.destroy());
  const closed = new Promise<{ code: number; at: number }>((resolve) =>
    c.provider.once('connection-close', (e) =>
      resolve({ code: e?.code ?? 0, at: performance.now() }),
    ),
  );
  await synced(c);
  let isClosed = false;
  void closed.then(() => (isClosed = true));
  return { closed, open: () => !isClosed };
}

/** Polls `check` until it holds, failing after `ms` (for a state nothing announces). */
async function eventually(check: () => boolean, ms = 5000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!check()) {
    if (performance.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setImmediate(r));
  }
}

/** `promise`, or a rejection naming `what` once `ms` passed (a close that never comes fails fast). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** One step of a test, bounded and named: a hang says where it waited. */
const step = <T>(what: string, p: Promise<T>) => within(p, 15_000, what);

describe('PG: control messages between processes over one Redis', () => {
  it('PG-110: a person removed from a project through one process has their sockets on both processes closed (4401) within a second', async () => {
    const redis = await startRedis(cleanup);
    const { a, b, admin, project, dev, bob } = await twoServers(redis);
    const onA = await socket(a.server.url, dev.draftId!, bob.token);
    const onB = await socket(b.server.url, dev.draftId!, bob.token);

    await admin.ok('DELETE', `/api/projects/${project.id}/members/${bob.id}`);
    const removed = performance.now();
    const [closedA, closedB] = await Promise.all([onA.closed, onB.closed]);
    expect(closedA.code).toBe(CLOSE.rights_changed);
    expect(closedB.code).toBe(CLOSE.rights_changed);
    expect(closedB.at - removed).toBeLessThan(1000);
    expect(b.bus.counts().received).toBeGreaterThan(0);
  });

  it("PG-110: a revoked token closes that token's sockets on the other process too (4401 session ended), and no one else's", async () => {
    const redis = await startRedis(cleanup);
    const { b, dev, bob, admin } = await twoServers(redis);
    const byToken = await socket(b.server.url, dev.draftId!, bob.token);
    const admins = await socket(b.server.url, dev.draftId!, admin.token);
    const { tokens } = await bob.ok<{ tokens: { id: string; name: string }[] }>(
      'GET',
      '/api/tokens',
    );
    // Revoked through process A (bob's client talks to A).
    await bob.ok('DELETE', `/api/tokens/${tokens.find((t) => t.name === 'tests')!.id}`);
    const revoked = performance.now();
    const closed = await byToken.closed;
    expect(closed.code).toBe(CLOSE.session_ended);
    expect(closed.at - revoked).toBeLessThan(1000);
    expect(admins.open()).toBe(true);
  });

  it('PG-111: a project event stored through one process wakes an event stream on the other within a second', async () => {
    const redis = await startRedis(cleanup);
    const { a, b, admin, project, dev } = await twoServers(redis);
    const stream = await openEvents(b.server.url, project.id, admin.token);
    cleanup.push(() => stream.close());
    const onB = overTheWire(b.server.url, admin.token);
    const carol = await newUser(admin, 'carol@example.com', 'Carol');
    // A change through B itself first: the stream has read everything and waits, idle.
    await onB.ok('PUT', `/api/projects/${project.id}/members/${carol.id}`, {
      roles: { [dev.id]: ['viewer'] },
    });
    await stream.until('members');
    const heard = b.bus.counts().received;

    // Through A: only a message can tell B's stream to read the table again.
    const changed = performance.now();
    await admin.ok('DELETE', `/api/projects/${project.id}/members/${carol.id}`);
    await stream.until('members');
    expect(performance.now() - changed).toBeLessThan(1000);
    expect(b.bus.counts().received).toBeGreaterThan(heard);
    expect(a.server.url).not.toBe(b.server.url);
  });

  it('PG-112: a removal made while Redis is down closes the person’s socket and event stream on the other process within a second of Redis returning (the resync sweep)', async () => {
    const redis = await startRedis(cleanup);
    const { a, b, admin, project, dev, bob } = await twoServers(redis);
    const onB = await socket(b.server.url, dev.draftId!, bob.token);
    const stream = await openEvents(b.server.url, project.id, bob.token);
    cleanup.push(() => stream.close());
    let streamEnded = false;
    void stream.ended.then(() => (streamEnded = true));
    const dropped = a.bus.counts().droppedUnavailable;
    const resyncs = b.bus.counts().resyncs;

    await redis.kill();
    await admin.ok('DELETE', `/api/projects/${project.id}/members/${bob.id}`);
    // The message did not travel: A dropped it (no Redis), and B's socket is still open.
    await eventually(() => a.bus.counts().droppedUnavailable > dropped);
    expect(onB.open()).toBe(true);
    expect(streamEnded).toBe(false);

    await redis.restart();
    const back = performance.now();
    const closed = await onB.closed;
    expect(closed.code).toBe(CLOSE.rights_changed);
    expect(closed.at - back).toBeLessThan(1000);
    // Bob's event stream on B ends too (the sweep re-checks streams as it does sockets).
    await stream.ended;
    expect(performance.now() - back).toBeLessThan(1000);
    expect(b.bus.counts().resyncs).toBeGreaterThan(resyncs);
  });

  // Timed out twice in CI (60 s, never here alone or beside the other PostgreSQL and Redis files):
  // every step is bounded and named so the next one says where it waited; one retry meanwhile.
  it(
    'PG-180: a removal whose message the sender could not send (its sends to a hung Redis at the cap) still closes the person’s socket on the other process within a second of Redis answering, without a resync there',
    { retry: 1, timeout: 60_000 },
    async () => {
      const redis = await step('starting Redis', startRedis(cleanup));
      const { a, b, admin, project, dev, bob } = await step('two servers', twoServers(redis));
      const onB = await step('bob’s socket on B', socket(b.server.url, dev.draftId!, bob.token));
      const resyncs = b.bus.counts().resyncs;
      const resume = await step('pausing Redis', pauseRedis(redis, cleanup));
      for (let i = 0; i < MAX_SENDS_IN_FLIGHT; i++)
        a.bus.publish({ type: 'projectEvent', projectId: `prj_${i}` });
      const dropped = a.bus.counts().droppedUnavailable;

      await step(
        'the removal through A',
        admin.ok('DELETE', `/api/projects/${project.id}/members/${bob.id}`),
      );
      expect(a.bus.counts().droppedUnavailable).toBeGreaterThan(dropped);
      expect(onB.open()).toBe(true);

      resume();
      const back = performance.now();
      const closed = await within(onB.closed, 3000, 'bob’s socket on B closed');
      expect(closed.code).toBe(CLOSE.rights_changed);
      expect(closed.at - back).toBeLessThan(1000);
      // B's own connections never failed: the message itself came, late, not a sweep.
      expect(b.bus.counts().resyncs).toBe(resyncs);
    },
  );

  // Hung once for 60 s beside three other files (never alone): every step is bounded and named.
  it(
    'PG-180: a removal made while only the sender’s publishing connection is down (killed, and kept out) closes the person’s socket on the other process within a second of that connection returning',
    { timeout: 60_000 },
    async () => {
      const redis = await step('starting Redis', startRedis(cleanup));
      const { a, b, admin, project, dev, bob } = await step('two servers', twoServers(redis));
      const onB = await step('bob’s socket on B', socket(b.server.url, dev.draftId!, bob.token));
      const resyncs = b.bus.counts().resyncs;
      const raw = createClient({ url: redis.url });
      raw.on('error', () => {});
      cleanup.push(() => raw.destroy());
      await step('a raw Redis client', raw.connect());
      // A's publisher is the one connection that ever published (every change went through A).
      const list = await step('CLIENT LIST', raw.sendCommand<string>(['CLIENT', 'LIST']));
      const publishers = list.split('\n').filter((l) => / cmd=publish /.test(l));
      expect(publishers).toHaveLength(1);
      const id = /\bid=(\d+)/.exec(publishers[0]!)![1]!;
      // Connections already open stay signed in; a new one (A's publisher reconnecting) is refused.
      await step('requirepass', raw.sendCommand(['CONFIG', 'SET', 'requirepass', 'kept-out']));
      await step('killing A’s publisher', raw.sendCommand(['CLIENT', 'KILL', 'ID', id]));
      const dropped = a.bus.counts().droppedUnavailable;

      await step(
        'the removal through A',
        admin.ok('DELETE', `/api/projects/${project.id}/members/${bob.id}`),
      );
      await eventually(() => a.bus.counts().droppedUnavailable > dropped);
      expect(onB.open()).toBe(true);

      await step('requirepass off', raw.sendCommand(['CONFIG', 'SET', 'requirepass', '']));
      const back = performance.now();
      const closed = await within(onB.closed, 3000, 'bob’s socket on B closed');
      expect(closed.code).toBe(CLOSE.rights_changed);
      expect(closed.at - back).toBeLessThan(1000);
      expect(b.bus.counts().resyncs).toBe(resyncs);
    },
  );
});

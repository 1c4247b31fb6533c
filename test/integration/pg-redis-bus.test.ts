import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createClient } from 'redis';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { startRedis } from '../helpers/redis.ts';
import { pauseRedis } from '../helpers/redis-pause.ts';
import { createLocalBus, MAX_LISTENERS_PER_TYPE, type ClusterBus } from '#server/cluster/bus.ts';
import {
  createRedisBus,
  MAX_OWED,
  MAX_SENDS_IN_FLIGHT,
  type RedisBus,
} from '#server/cluster/redis-bus.ts';
import type { ClusterMessage, ClusterMessageType } from '#server/cluster/messages.ts';

const cleanup = cleanupAfterEach();

/** A bus as one process would hold it; closed after the test. */
function bus(url: string, logged: string[] = [], secret?: string): RedisBus {
  const b = createRedisBus({ url, secret, log: (msg) => logged.push(msg) });
  cleanup.push(() => b.close());
  return b;
}

/** Every message a bus delivers to this process's listeners, in order. */
function heard(b: ClusterBus): ClusterMessage[] {
  const got: ClusterMessage[] = [];
  for (const type of TYPES) b.on(type, (m) => got.push(m));
  return got;
}

const TYPES: ClusterMessageType[] = [
  'closeUser',
  'credentialEnded',
  'closeDraft',
  'flowRulesChanged',
  'projectEvent',
  'deliveryEvent',
  'webhooksDue',
];
const ONE_OF_EACH: ClusterMessage[] = [
  { type: 'closeUser', userId: 'usr_1', reason: 'removed from project' },
  { type: 'credentialEnded', kind: 'session', id: 'ses_1' },
  { type: 'closeDraft', draftId: 'drf_1', reason: 'draft_closed' },
  { type: 'flowRulesChanged', projectId: 'prj_1' },
  { type: 'projectEvent', projectId: 'prj_1' },
  { type: 'deliveryEvent', projectId: 'prj_1', environmentId: 'env_1' },
  { type: 'webhooksDue' },
];

/** Resolves with the next message of `type` the bus delivers. */
function next<T extends ClusterMessageType>(b: ClusterBus, type: T) {
  return new Promise<Extract<ClusterMessage, { type: T }>>((resolve) => {
    const off = b.on(type, (m) => (off(), resolve(m)));
  });
}

/** Resolves when the bus's next resync runs. */
function resynced(b: ClusterBus): Promise<void> {
  return new Promise((resolve) => {
    const off = b.onResynced(() => (off(), resolve()));
  });
}

/** A raw publisher, as a foreign or broken process would be. */
async function rawClient(url: string) {
  const c = createClient({ url });
  c.on('error', () => {});
  cleanup.push(() => c.destroy());
  await c.connect();
  return c;
}

describe('PG: the cluster bus', () => {
  it('PG-60 one process without Redis: every message reaches its listeners synchronously, inside publish', async () => {
    const b = createLocalBus();
    const got = heard(b);
    for (const m of ONE_OF_EACH) b.publish(m);
    expect(got).toEqual(ONE_OF_EACH);
    expect(b.counts()).toMatchObject({ published: ONE_OF_EACH.length, received: 0, resyncs: 0 });
    await b.close();
  });

  it('PG-60 two processes on one Redis see each other’s messages; the sender’s own are delivered at once, and once', async () => {
    const redis = await startRedis(cleanup);
    const a = bus(redis.url);
    // REDIS_URL may name a unix socket too.
    const b = bus(`unix://${redis.socket}`);
    await Promise.all([a.ready, b.ready]);
    const atA = heard(a);
    const atB = heard(b);

    const arrived = next(b, 'deliveryEvent');
    for (const m of ONE_OF_EACH) a.publish(m);
    // Synchronous at the sender: no round trip through Redis.
    expect(atA).toEqual(ONE_OF_EACH);
    await arrived;
    expect(atB).toEqual(ONE_OF_EACH);

    // And back; by the time B's answer reaches A, A's own echo (sent earlier) has been skipped.
    const answer = next(a, 'closeUser');
    b.publish({ type: 'closeUser', userId: 'usr_2', reason: 'role changed' });
    expect(await answer).toEqual({ type: 'closeUser', userId: 'usr_2', reason: 'role changed' });
    expect(atA).toEqual([
      ...ONE_OF_EACH,
      { type: 'closeUser', userId: 'usr_2', reason: 'role changed' },
    ]);
    expect(a.counts()).toMatchObject({
      published: ONE_OF_EACH.length,
      received: 1,
      droppedUnavailable: 0,
    });
    expect(b.counts()).toMatchObject({
      published: 1,
      received: ONE_OF_EACH.length,
      droppedUnavailable: 0,
    });
  });

  it('PG-61 malformed, unknown and oversized messages published raw are dropped and counted, never thrown; a failing listener does not stop the others', async () => {
    const redis = await startRedis(cleanup);
    const b = bus(redis.url);
    await b.ready;
    const got = heard(b);
    let broken = 0;
    b.on('projectEvent', () => {
      broken++;
      throw new Error('a broken listener');
    });
    const raw = await rawClient(redis.url);
    const send = (payload: string) => raw.publish('stagecoach:cluster', payload);
    const envelope = (message: unknown) => JSON.stringify({ from: 'another-process', message });

    await send('not json {');
    await send(JSON.stringify(null));
    await send(envelope({ type: 'dropDatabase', projectId: 'prj_1' }));
    await send(envelope({ type: 'closeUser', userId: 'usr_1' })); // no reason
    await send(envelope({ type: 'closeUser', userId: 42, reason: '' }));
    await send(envelope({ type: 'projectEvent', projectId: 'prj_1', extra: true }));
    await send(envelope({ type: 'closeDraft', draftId: 'drf_1', reason: 'deleted' })); // not a reason
    await send(envelope({ type: 'closeUser', userId: 'usr_1', reason: 'x'.repeat(201) }));
    await send(JSON.stringify({ message: { type: 'projectEvent', projectId: 'prj_1' } })); // no sender
    await send(envelope({ type: 'projectEvent', projectId: 'x'.repeat(3000) }));
    // A good one last: Redis delivers in order, so every message above was handled by then.
    const good = next(b, 'projectEvent');
    await send(envelope({ type: 'projectEvent', projectId: 'prj_9' }));
    expect(await good).toEqual({ type: 'projectEvent', projectId: 'prj_9' });

    expect(got).toEqual([{ type: 'projectEvent', projectId: 'prj_9' }]);
    expect(broken).toBe(1);
    expect(b.counts()).toMatchObject({
      received: 1,
      droppedMalformed: 9,
      droppedOversized: 1,
      listenerErrors: 1,
    });

    // What this process would send is checked the same way: kept here, not sent, counted.
    const tooLong = { type: 'closeUser', userId: 'usr_1', reason: 'x'.repeat(300) } as const;
    b.publish(tooLong);
    b.publish({ type: 'flowRulesChanged', projectId: 'x'.repeat(3000) });
    expect(got.slice(1)).toEqual([
      tooLong,
      { type: 'flowRulesChanged', projectId: 'x'.repeat(3000) },
    ]);
    expect(b.counts()).toMatchObject({
      published: 2,
      droppedMalformed: 10,
      droppedOversized: 2,
      sending: 0,
    });
  });

  it('PG-61 listeners per message type are capped; a removed listener frees its place', () => {
    const b = createLocalBus();
    const offs = Array.from({ length: MAX_LISTENERS_PER_TYPE }, () =>
      b.on('projectEvent', () => {}),
    );
    expect(() => b.on('projectEvent', () => {})).toThrow(/more than 100 listeners/);
    expect(() => b.on('closeUser', () => {})).not.toThrow();
    offs[0]!();
    expect(() => b.on('projectEvent', () => {})).not.toThrow();
  });

  it('PG-62 Redis killed: publish returns at once and throws nothing (dropped, counted); restarted: resynced once per reconnect, within a second, and messages flow again', async () => {
    const redis = await startRedis(cleanup);
    const logged: string[] = [];
    const a = bus(redis.url, logged);
    const b = bus(redis.url);
    await Promise.all([a.ready, b.ready]);
    const atA = heard(a);
    const atB = heard(b);

    for (let round = 1; round <= 2; round++) {
      await redis.kill();
      const before = a.counts().droppedUnavailable;
      const t0 = performance.now();
      for (let i = 0; i < 50; i++) a.publish({ type: 'projectEvent', projectId: `prj_down_${i}` });
      expect(performance.now() - t0).toBeLessThan(250);
      expect(
        atA.filter((m) => 'projectId' in m && m.projectId.startsWith('prj_down')),
      ).toHaveLength(50 * round);
      await expect.poll(() => a.counts().droppedUnavailable).toBe(before + 50);

      const back = Promise.all([resynced(a), resynced(b)]);
      const restarted = performance.now();
      await redis.restart();
      await back;
      const resyncMs = performance.now() - restarted;
      console.info(
        `PG-62 round ${round}: resynced ${resyncMs.toFixed(0)} ms after the restart began`,
      );
      expect(resyncMs).toBeLessThan(1000);
      expect(a.counts().resyncs).toBe(round);
      expect(b.counts().resyncs).toBe(round);

      const arrived = next(b, 'closeUser');
      a.publish({ type: 'closeUser', userId: `usr_${round}`, reason: 'removed' });
      expect(await arrived).toEqual({
        type: 'closeUser',
        userId: `usr_${round}`,
        reason: 'removed',
      });
    }
    // Nothing published while Redis was down reached B; the outage was logged once per round, without the URL.
    expect(atB.filter((m) => 'projectId' in m && m.projectId.startsWith('prj_down'))).toEqual([]);
    expect(logged.filter((l) => l.includes('unavailable')).length).toBeGreaterThanOrEqual(2);
    expect(logged.join('\n')).not.toContain(redis.url);
  });

  it('PG-62 Redis hangs (SIGSTOP): publish still returns at once, sends waiting for it are capped (the rest dropped, counted); resumed: the waiting ones are sent and messages flow', async () => {
    const redis = await startRedis(cleanup);
    const a = bus(redis.url);
    const b = bus(redis.url);
    await Promise.all([a.ready, b.ready]);
    const resume = await pauseRedis(redis, cleanup);
    const t0 = performance.now();
    for (let i = 0; i < MAX_SENDS_IN_FLIGHT + 500; i++)
      a.publish({ type: 'projectEvent', projectId: `prj_${i}` });
    expect(performance.now() - t0).toBeLessThan(500);
    expect(a.counts().droppedUnavailable).toBe(500);

    expect(a.counts().sending).toBe(MAX_SENDS_IN_FLIGHT);

    // Resumed: what was waiting is sent (in order), then new messages flow.
    const atB = heard(b);
    resume();
    await expect.poll(() => a.counts().sending).toBe(0);
    const arrived = next(b, 'closeUser');
    a.publish({ type: 'closeUser', userId: 'usr_1', reason: 'removed' });
    expect(await arrived).toEqual({ type: 'closeUser', userId: 'usr_1', reason: 'removed' });
    expect(atB).toHaveLength(MAX_SENDS_IN_FLIGHT + 1);
    expect(a.counts().droppedUnavailable).toBe(500);
  });

  it('PG-62 a process that starts while Redis is down works locally and resyncs once when Redis comes', async () => {
    const redis = await startRedis(cleanup);
    await redis.stop();
    const a = bus(redis.url);
    const got = heard(a);
    a.publish({ type: 'flowRulesChanged', projectId: 'prj_1' });
    expect(got).toEqual([{ type: 'flowRulesChanged', projectId: 'prj_1' }]);

    const back = resynced(a);
    await redis.restart();
    await back;
    await a.ready;
    const b = bus(redis.url);
    await b.ready;
    const arrived = next(a, 'projectEvent');
    b.publish({ type: 'projectEvent', projectId: 'prj_2' });
    expect(await arrived).toEqual({ type: 'projectEvent', projectId: 'prj_2' });
    expect(a.counts().resyncs).toBe(1);
    expect(b.counts().resyncs).toBe(0);
  });

  it('PG-66 with CLUSTER_SECRET every envelope is signed: a bus with the same secret hears it; a forged, unsigned or differently keyed one is dropped and counted', async () => {
    const redis = await startRedis(cleanup);
    const secret = 's'.repeat(40);
    const a = bus(redis.url, [], secret);
    const b = bus(redis.url, [], secret);
    await Promise.all([a.ready, b.ready]);
    const got = heard(b);
    const raw = await rawClient(redis.url);
    const envelope = JSON.stringify({
      from: 'a-redis-writer',
      message: { type: 'closeUser', userId: 'usr_1', reason: 'forged' },
    });
    await raw.publish('stagecoach:cluster', envelope);
    await raw.publish('stagecoach:cluster', `${'0'.repeat(64)}.${envelope}`);
    // Signed as a bus of another installation (another secret) would sign it.
    const otherKey = createHmac('sha256', 't'.repeat(40)).update('stagecoach bus v1').digest();
    const otherSig = createHmac('sha256', otherKey).update(envelope).digest('hex');
    await raw.publish('stagecoach:cluster', `${otherSig}.${envelope}`);
    // Redis delivers in order: by the time the signed one arrives, the others were handled.
    const good = next(b, 'projectEvent');
    a.publish({ type: 'projectEvent', projectId: 'prj_signed' });
    expect(await good).toEqual({ type: 'projectEvent', projectId: 'prj_signed' });
    expect(got).toEqual([{ type: 'projectEvent', projectId: 'prj_signed' }]);
    expect(b.counts().droppedMalformed).toBe(3);
  });

  it('PG-181 a sender keeps the closes and rule changes it could not send (once each, wake-ups not) and sends them when Redis answers; past MAX_OWED the rest are forgotten and every process is asked to resync instead, once', async () => {
    const redis = await startRedis(cleanup);
    const a = bus(redis.url);
    const b = bus(redis.url);
    const c = bus(redis.url);
    await Promise.all([a.ready, b.ready, c.ready]);
    const resume = await pauseRedis(redis, cleanup);
    for (let i = 0; i < MAX_SENDS_IN_FLIGHT; i++)
      a.publish({ type: 'projectEvent', projectId: `prj_${i}` });
    // Over the cap: a wake-up is dropped for good, a close is kept, and its repeat is kept once.
    a.publish({ type: 'projectEvent', projectId: 'prj_late' });
    a.publish({ type: 'closeUser', userId: 'usr_1', reason: 'removed' });
    a.publish({ type: 'closeUser', userId: 'usr_1', reason: 'removed' });
    a.publish({ type: 'credentialEnded', kind: 'token', id: 'tok_1' });
    const atB = heard(b);
    resume();
    await expect.poll(() => a.counts().resent).toBe(2);
    await expect
      .poll(() => atB.filter((m) => m.type !== 'projectEvent'))
      .toEqual([
        { type: 'closeUser', userId: 'usr_1', reason: 'removed' },
        { type: 'credentialEnded', kind: 'token', id: 'tok_1' },
      ]);
    expect(atB.filter((m) => m.type === 'projectEvent')).toHaveLength(MAX_SENDS_IN_FLIGHT);
    expect(b.counts().resyncs).toBe(0);

    // More kept messages than MAX_OWED while Redis hangs: they are forgotten, and the others
    // resync once (their sweep re-reads what the messages would have said).
    const resumeAgain = await pauseRedis(redis, cleanup);
    for (let i = 0; i < MAX_SENDS_IN_FLIGHT + MAX_OWED + 10; i++)
      a.publish({ type: 'closeUser', userId: `usr_${i}`, reason: 'removed' });
    const resyncedB = resynced(b);
    const resyncedC = resynced(c);
    resumeAgain();
    await Promise.all([resyncedB, resyncedC]);
    await expect.poll(() => a.counts().sending).toBe(0);
    expect(b.counts().resyncs).toBe(1);
    expect(c.counts().resyncs).toBe(1);
    expect(a.counts().resyncs).toBe(0);
    expect(atB.filter((m) => m.type === 'closeUser')).toHaveLength(
      1 + MAX_SENDS_IN_FLIGHT + MAX_OWED,
    );
  });
});

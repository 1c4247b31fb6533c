import { describe, expect, it } from 'vitest';
import { createClient } from 'redis';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { startRedis } from '../helpers/redis.ts';
import { pauseRedis } from '../helpers/redis-pause.ts';
import { prng } from '../helpers/prng.ts';
import { inProcess } from '../helpers/fixture.ts';
import { ADMIN, tempDataDir, testConfig } from '../helpers/server.ts';
import { createServices } from '#server/start.ts';
import { createSignInLimiter, type SignInBegun } from '#server/http/rate-limit.ts';
import { connectInBackground, redisClient } from '#server/cluster/redis-connection.ts';
import {
  createRedisSignInLimiter,
  signInHashKey,
  type RedisSignInLimiter,
} from '#server/cluster/redis-sign-ins.ts';

const cleanup = cleanupAfterEach();
const KEY = signInHashKey(Buffer.alloc(32, 7));

/**
 * A limiter as one process would hold it, on its own connection; closed after the test. Redis
 * gets `timeoutMs` to answer: generous by default, as the tests of shared counts are not about
 * the deadline (at the 250 ms a server uses, 60 parallel scripts on two busy cores fell back to
 * each process's own counts and let 9 through); PG-65 uses a server's.
 */
async function limiter(
  url: string,
  hashKey = KEY,
  timeoutMs = 20_000,
): Promise<RedisSignInLimiter> {
  const client = redisClient(url, 'sign-ins', () => {});
  cleanup.push(() => client.isOpen && client.destroy());
  await connectInBackground(client);
  return createRedisSignInLimiter({ client, hashKey, timeoutMs });
}

const waits = (b: SignInBegun) => ('wait' in b ? b.wait : 0);

/** Resolves once the limiter answers from Redis again (its client reconnects by itself). */
async function sharedAgain(l: RedisSignInLimiter) {
  await expect
    .poll(async () => {
      const before = l.counts().shared;
      await l.locked(['nobody@example.com']);
      return l.counts().shared > before;
    })
    .toBe(true);
}

describe('PG: sign-in limits shared through Redis', () => {
  it('PG-63 two processes on one Redis share the counts: after 5 wrong guesses through A, the 6th through B waits; an admin’s unlock and an address’s 30 are shared too', async () => {
    const redis = await startRedis(cleanup);
    const a = await limiter(redis.url);
    const b = await limiter(redis.url);

    for (let i = 0; i < 5; i++)
      expect(waits(await a.begin('bo@example.com', '203.0.113.1'))).toBe(0);
    const held = waits(await b.begin('bo@example.com', '203.0.113.1'));
    expect(held).toBeGreaterThan(14 * 60);
    expect(held).toBeLessThanOrEqual(15 * 60);
    // Another address of the same account is not held (5 per account and address).
    expect(waits(await b.begin('bo@example.com', '203.0.113.2'))).toBe(0);
    expect(await a.locked(['bo@example.com', 'al@example.com'])).toEqual(
      new Set(['bo@example.com']),
    );

    // Unlocked through B: A lets the account try again from the held address.
    await b.unlock('bo@example.com');
    expect(await a.locked(['bo@example.com'])).toEqual(new Set());
    expect(waits(await a.begin('bo@example.com', '203.0.113.1'))).toBe(0);

    // 30 per address, across accounts and processes (6 are counted on .1 above).
    for (let i = 0; i < 24; i++)
      expect(waits(await (i % 2 ? a : b).begin(`user${i}@example.com`, '203.0.113.1'))).toBe(0);
    expect(waits(await a.begin('new@example.com', '203.0.113.1'))).toBeGreaterThan(0);
    expect(waits(await b.begin('new@example.com', '203.0.113.3'))).toBe(0);
    expect(a.counts().local + b.counts().local).toBe(0);
  });

  it('PG-63 through the API: two instances sharing a Redis answer 429 with Retry-After on the sixth wrong password, sent to the other one, and the right password waits too', async () => {
    const redis = await startRedis(cleanup);
    const apps = [];
    for (let i = 0; i < 2; i++) {
      const services = createServices(testConfig(tempDataDir()), {
        signIns: await limiter(redis.url),
      });
      cleanup.push(() => services.database.close());
      const api = inProcess(services.app, '');
      expect((await api.raw('/api/setup', { method: 'POST', body: ADMIN })).status).toBe(201);
      apps.push(api);
    }
    const [a, b] = apps as [ReturnType<typeof inProcess>, ReturnType<typeof inProcess>];
    const signIn = (api: typeof a, password: string) =>
      api.raw('/api/session', {
        method: 'POST',
        body: { email: ADMIN.email, password },
        headers: { origin: api.origin },
      });
    for (let i = 0; i < 5; i++) expect((await signIn(a, `wrong guess ${i}`)).status).toBe(401);
    const held = await signIn(b, 'wrong guess 5');
    expect(held.status).toBe(429);
    expect(Number(held.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await signIn(b, ADMIN.password)).status).toBe(429);
  });

  it('PG-63 60 parallel guesses through two processes: exactly 5 are let through (check and count are one step in Redis)', async () => {
    const redis = await startRedis(cleanup);
    const a = await limiter(redis.url);
    const b = await limiter(redis.url);
    const answers = await Promise.all(
      Array.from({ length: 60 }, async (_, i) =>
        (i % 2 ? a : b).begin('al@example.com', '192.0.2.1'),
      ),
    );
    expect(answers.filter((x) => 'attempt' in x)).toHaveLength(5);
    expect(a.counts().local + b.counts().local).toBe(0);
  });

  it('PG-63 the same seeded run of attempts, successes, lock queries and unlocks gets the same answers from Redis as from the in-process counts', async () => {
    const redis = await startRedis(cleanup);
    const shared = [await limiter(redis.url), await limiter(redis.url)];
    const memory = createSignInLimiter();
    const random = prng(17);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
    const emails = ['a@example.com', 'b@example.com', 'c@example.com'];
    const addrs = Array.from({ length: 12 }, (_, i) => `192.0.2.${i}`);
    let now = Date.now();
    let refused = 0;
    for (let step = 0; step < 1500; step++) {
      now += Math.floor(random() * 6000);
      const roll = random();
      const r = pick(shared);
      if (roll < 0.04) {
        expect(await r.locked(emails, now)).toEqual(memory.locked(emails, now));
      } else if (roll < 0.05) {
        const email = pick(emails);
        await r.unlock(email);
        memory.unlock(email);
      } else {
        const email = pick(emails);
        const addr = pick(addrs);
        const fromRedis = await r.begin(email, addr, now);
        const fromMemory = memory.begin(email, addr, now);
        expect(waits(fromRedis), `step ${step}`).toBe(waits(fromMemory));
        if ('wait' in fromMemory) refused++;
        if ('attempt' in fromRedis && 'attempt' in fromMemory && random() < 0.15) {
          await fromRedis.attempt.succeeded();
          fromMemory.attempt.succeeded();
        }
      }
    }
    // The run reached the limits (or it would prove little).
    expect(refused).toBeGreaterThan(300);
  });

  it('PG-64 Redis keys hold a keyed hash of emails and addresses, never the values; another key names them differently', async () => {
    const redis = await startRedis(cleanup);
    const a = await limiter(redis.url);
    const attempt = await a.begin('Secret.Person@example.com', '203.0.113.77');
    if ('attempt' in attempt) await attempt.attempt.succeeded();
    await a.begin('Secret.Person@example.com', '203.0.113.78');
    const raw = createClient({ url: redis.url });
    raw.on('error', () => {});
    cleanup.push(() => raw.destroy());
    await raw.connect();
    const keys = (await raw.keys('*')).sort();
    expect(keys.length).toBeGreaterThanOrEqual(5);
    const everything = [...keys, ...(await raw.sMembers(keys.find((k) => k.includes(':ps:'))!))]
      .join('\n')
      .toLowerCase();
    for (const secret of ['secret.person', 'example.com', '203.0.113', '.77', '.78'])
      expect(everything).not.toContain(secret);

    const other = await limiter(redis.url, signInHashKey(Buffer.alloc(32, 8)));
    await other.begin('Secret.Person@example.com', '203.0.113.77');
    const added = (await raw.keys('*')).filter((k) => !keys.includes(k));
    expect(added.length).toBeGreaterThanOrEqual(3);
  });

  it('PG-65 Redis killed mid-way: each process’s own counts apply, nothing throws; restarted: shared again', async () => {
    const redis = await startRedis(cleanup);
    const a = await limiter(redis.url);
    const b = await limiter(redis.url);
    for (let i = 0; i < 3; i++)
      expect(waits(await a.begin('cy@example.com', '203.0.113.9'))).toBe(0);

    await redis.kill();
    // A counted its 3 in memory too: 2 more, then it waits. B saw none: it allows 5 of its own.
    for (let i = 0; i < 2; i++)
      expect(waits(await a.begin('cy@example.com', '203.0.113.9'))).toBe(0);
    expect(waits(await a.begin('cy@example.com', '203.0.113.9'))).toBeGreaterThan(0);
    for (let i = 0; i < 5; i++)
      expect(waits(await b.begin('cy@example.com', '203.0.113.9'))).toBe(0);
    expect(waits(await b.begin('cy@example.com', '203.0.113.9'))).toBeGreaterThan(0);
    const right = await b.begin('dee@example.com', '203.0.113.10');
    if (!('attempt' in right)) throw new Error('a first attempt must be allowed');
    await right.attempt.succeeded();
    await b.unlock('cy@example.com');
    expect(await b.locked(['cy@example.com'])).toEqual(new Set());
    expect(a.counts().local).toBeGreaterThan(0);
    expect(b.counts().local).toBeGreaterThan(0);

    await redis.restart();
    await sharedAgain(a);
    await sharedAgain(b);
    for (let i = 0; i < 5; i++)
      expect(waits(await a.begin('eve@example.com', '203.0.113.11'))).toBe(0);
    expect(waits(await b.begin('eve@example.com', '203.0.113.11'))).toBeGreaterThan(0);
  });

  it('PG-65 Redis hangs (SIGSTOP): an answer comes from this process’s counts within the timeout; resumed: shared again', async () => {
    const redis = await startRedis(cleanup);
    const a = await limiter(redis.url, KEY, 250);
    const b = await limiter(redis.url, KEY, 250);
    for (let i = 0; i < 4; i++)
      expect(waits(await a.begin('fay@example.com', '203.0.113.5'))).toBe(0);
    const resume = await pauseRedis(redis, cleanup);
    const t0 = performance.now();
    expect(waits(await a.begin('fay@example.com', '203.0.113.5'))).toBe(0);
    expect(waits(await a.begin('fay@example.com', '203.0.113.5'))).toBeGreaterThan(0);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(a.counts().local).toBe(2);

    resume();
    await sharedAgain(a);
    await sharedAgain(b);
    // The two attempts decided here reach Redis too once it resumes (their scripts were sent):
    // 6 counted there, so B waits.
    expect(waits(await b.begin('fay@example.com', '203.0.113.5'))).toBeGreaterThan(0);
    expect(waits(await b.begin('fay@example.com', '203.0.113.6'))).toBe(0);
  });
});

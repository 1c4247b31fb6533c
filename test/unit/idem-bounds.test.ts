import { afterEach, describe, expect, it } from 'vitest';
import { AppError } from '#schema/errors.ts';
import { openDatabase, type OpenDatabase } from '#server/store/db.ts';
import { createIdempotencyStore } from '#server/store/idempotency.ts';
import { createIdempotency, type Claim } from '#server/domain/idempotency.ts';
import { tempDataDir } from '../helpers/server.ts';

/** The domain rules of idempotent writes over a real database (bounds that take too long over the wire). */
let open: OpenDatabase | null = null;
afterEach(async () => {
  await open?.close();
  open = null;
});

function setup(opts: { maxKeysPerUserPerDay?: number; maxAnswerBytes?: number } = {}) {
  open = openDatabase(tempDataDir(), 'normal', () => {});
  for (const id of ['u1', 'u2'])
    open.sqlite
      .prepare(
        'INSERT INTO users (id, email, name, password_hash, is_instance_admin, created_at) VALUES (?, ?, ?, ?, 0, 0)',
      )
      .run(id, `${id}@example.com`, id, 'x');
  let t = 1_000_000;
  const idem = createIdempotency({
    store: open.transactions.port(createIdempotencyStore(open.db)),
    hashKey: Buffer.alloc(32, 7),
    now: () => t,
    ...opts,
  });
  const who = (key: string, userId = 'u1') => ({
    userId,
    credential: { kind: 'token' as const, id: `tok-${userId}`, expiresAt: null },
    key,
  });
  const req = { method: 'POST', path: '/api/environments/e/sync', body: '{}' };
  const answer = (status: number, body = '{"ok":true}') => ({
    status,
    contentType: 'application/json',
    body,
    holdsSecret: false,
  });
  const errorOf = async (fn: () => unknown) => {
    try {
      await fn();
    } catch (err) {
      if (err instanceof AppError) return err.id;
      throw err;
    }
    return null;
  };
  return {
    idem,
    who,
    req,
    answer,
    errorOf,
    advance: (ms: number) => void (t += ms),
    rows: () =>
      (open!.sqlite.prepare('SELECT count(*) AS n FROM idempotency_keys').get() as { n: number }).n,
  };
}

/** Checks a claim; a replay frees it, as the middleware does. */
const run = async (c: Claim, r: Parameters<Claim['check']>[0]) => {
  const kind = (await c.check(r)).kind;
  if (kind === 'replay') c.abandon();
  return kind;
};

describe('IDEM bounds', () => {
  it('IDEM-8 5xx and 429 answers are not kept (a retry runs again); 4xx are; an answer over the size bound is not kept and its key answers 409 idempotency_unavailable', async () => {
    const s = setup({ maxAnswerBytes: 100 });
    for (const status of [500, 503, 429]) {
      const c = s.idem.begin(s.who(`k${status}`));
      expect(await run(c, s.req)).toBe('run');
      await c.finish(s.answer(status));
      expect(await run(s.idem.begin(s.who(`k${status}`)), s.req)).toBe('run');
    }
    const refused = s.idem.begin(s.who('k409'));
    await run(refused, s.req);
    await refused.finish(s.answer(409, '{"error":{"id":"target_moved"}}'));
    expect(await s.idem.begin(s.who('k409')).check(s.req)).toEqual({
      kind: 'replay',
      answer: {
        status: 409,
        contentType: 'application/json',
        body: '{"error":{"id":"target_moved"}}',
      },
    });
    const big = s.idem.begin(s.who('big'));
    await run(big, s.req);
    await big.finish(s.answer(200, JSON.stringify({ text: 'x'.repeat(200) })));
    expect(await s.errorOf(async () => await s.idem.begin(s.who('big')).check(s.req))).toBe(
      'idempotency_unavailable',
    );
  });

  it('IDEM-8 keys per person per 24 hours are bounded (409 limit_reached, nothing runs); repeats of kept keys still replay; other people are not counted; the count frees as keys expire', async () => {
    const s = setup({ maxKeysPerUserPerDay: 3 });
    for (const k of ['a', 'b', 'c']) {
      const c = s.idem.begin(s.who(k));
      expect(await run(c, s.req)).toBe('run');
      await c.finish(s.answer(200));
    }
    const over = s.idem.begin(s.who('d'));
    expect(await s.errorOf(async () => await over.check(s.req))).toBe('limit_reached');
    over.abandon();
    expect(await run(s.idem.begin(s.who('a')), s.req)).toBe('replay');
    const theirs = s.idem.begin(s.who('d', 'u2'));
    expect(await run(theirs, s.req)).toBe('run');
    await theirs.finish(s.answer(200));

    s.advance(24 * 3600 * 1000 + 1);
    const later = s.idem.begin(s.who('d'));
    expect(await run(later, s.req)).toBe('run');
    await later.finish(s.answer(200));
    // An expired key is not replayed: it runs, and its row is replaced.
    const expired = s.idem.begin(s.who('a'));
    expect(await run(expired, s.req)).toBe('run');
    await expired.finish(s.answer(200));
    expect(s.rows()).toBe(5);
    // The sweep deletes the three rows older than 24 hours (b, c, and u2's d).
    expect(await s.idem.sweep()).toBe(3);
    expect(s.rows()).toBe(2);
  });

  it('IDEM-8 a claim is released by a refusal or a failure: the key is free again, never stuck in progress', async () => {
    const s = setup();
    const c = s.idem.begin(s.who('k'));
    expect(await s.errorOf(() => s.idem.begin(s.who('k')))).toBe('idempotency_in_progress');
    c.abandon();
    const again = s.idem.begin(s.who('k'));
    expect(await run(again, s.req)).toBe('run');
    await again.finish(s.answer(200));
    const other = s.idem.begin(s.who('k'));
    expect(await s.errorOf(async () => await other.check({ ...s.req, body: '{"x":1}' }))).toBe(
      'idempotency_key_reused',
    );
    other.abandon();
    expect(await run(s.idem.begin(s.who('k')), s.req)).toBe('replay');
  });
});

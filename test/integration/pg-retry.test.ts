import { describe, expect, it } from 'vitest';
import { eq, sql } from 'drizzle-orm';
import { users } from '#schema/db/pg-tables.ts';
import { TRANSACTION_ATTEMPTS } from '#server/store/pg/db.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { opened, postgresPerFile } from '../helpers/pg-per-file.ts';

const pg = postgresPerFile(cleanupAfterEach());

const user = (id: string) => ({
  id,
  email: `${id}@example.com`,
  name: id,
  passwordHash: 'x',
  createdAt: 1,
});

/** A statement failing with a serialization failure (SQLSTATE 40001), as PostgreSQL raises it. */
const serializationFailure = sql`DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '40001'; END $$`;

describe('PG-15: atomically runs a transaction again after a deadlock or serialization failure', () => {
  it('two transactions locking two rows in opposite orders really deadlock, and both commit', async () => {
    const pgx = pg.pgx;
    await pgx
      .db()
      .insert(users)
      .values([user('a'), user('b')]);
    const runs = { ab: 0, ba: 0 };
    const first = { ab: opened<void>(), ba: opened<void>() };
    const transfer = (name: 'ab' | 'ba', one: string, other: string) =>
      pgx.atomically(async () => {
        runs[name]++;
        await pgx
          .db()
          .update(users)
          .set({ name: `${name}1` })
          .where(eq(users.id, one));
        if (runs[name] === 1) {
          // Both hold their first row before either asks for its second: a real deadlock.
          first[name].open();
          await first[name === 'ab' ? 'ba' : 'ab'].promise;
        }
        await pgx
          .db()
          .update(users)
          .set({ name: `${name}2` })
          .where(eq(users.id, other));
        return runs[name];
      });
    const [ab, ba] = await Promise.all([transfer('ab', 'a', 'b'), transfer('ba', 'b', 'a')]);
    // PostgreSQL ended one of them (40P01; on a loaded machine, rarely, each in turn); what it
    // ended ran again, whole, and both committed.
    expect(Math.max(ab, ba)).toBeGreaterThan(1);
    const rows = await pgx.db().select({ id: users.id, name: users.name }).from(users);
    // Each transaction writes both rows: whichever committed last wrote both, none half.
    const last = rows[0]!.name.slice(0, 2);
    expect(rows.map((r) => r.name).sort()).toEqual([`${last}1`, `${last}2`]);
  }, 30_000);

  it('a nested call rethrows; the outermost runs the whole function again', async () => {
    const pgx = pg.pgx;
    let outer = 0;
    let inner = 0;
    const answer = await pgx.atomically(async () => {
      outer++;
      await pgx
        .db()
        .insert(users)
        .values(user(`u${outer}`));
      await pgx.atomically(async () => {
        inner++;
        if (inner === 1) await pgx.db().execute(serializationFailure);
      });
      return 'done';
    });
    expect({ answer, outer, inner }).toEqual({ answer: 'done', outer: 2, inner: 2 });
    // The first run's insert was rolled back with it.
    expect((await pgx.db().select({ id: users.id }).from(users)).map((r) => r.id)).toEqual(['u2']);
  });

  it('gives up after a few attempts, and never retries another error', async () => {
    const pgx = pg.pgx;
    let runs = 0;
    const failing = pgx.atomically(async () => {
      runs++;
      await pgx.db().execute(serializationFailure);
    });
    await expect(failing).rejects.toThrow();
    expect(runs).toBe(TRANSACTION_ATTEMPTS);

    runs = 0;
    await expect(
      pgx.atomically(async () => {
        runs++;
        await pgx
          .db()
          .insert(users)
          .values([user('x'), user('x')]); // a unique violation
      }),
    ).rejects.toThrow();
    expect(runs).toBe(1);
  });
});

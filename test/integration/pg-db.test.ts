import { describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { users } from '#schema/db/pg-tables.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { migratedPostgres, pgMigrationCount } from '../helpers/pg-db.ts';
import { openPostgres } from '../../server/store/pg/db.ts';

const cleanup = cleanupAfterEach();

const user = (id: string) => ({
  id,
  email: `${id}@example.com`,
  name: id,
  passwordHash: 'x',
  createdAt: Date.now(),
});

describe('PG-11: store calls inside atomically join one PostgreSQL transaction', () => {
  it('commits every write of the function, or none when it throws', async () => {
    const { pgx } = await migratedPostgres(cleanup);
    await pgx.atomically(async () => {
      expect(pgx.inTransaction()).toBe(true);
      await pgx.db().insert(users).values(user('u1'));
      // A nested atomically joins the outer transaction.
      await pgx.atomically(() => pgx.db().insert(users).values(user('u2')));
    });
    await expect(
      pgx.atomically(async () => {
        await pgx.db().insert(users).values(user('u3'));
        throw new Error('refused');
      }),
    ).rejects.toThrow('refused');
    expect(pgx.inTransaction()).toBe(false);
    const ids = (await pgx.db().select({ id: users.id }).from(users)).map((r) => r.id).sort();
    expect(ids).toEqual(['u1', 'u2']);
    expect(await pgx.db().select().from(users).where(eq(users.id, 'u3'))).toEqual([]);
  });
});

describe('PG-11: a nested atomically is a savepoint; a late callback of a finished transaction uses the pool', () => {
  it('a nested function that throws undoes only its own writes, and the outer one commits', async () => {
    const { pgx } = await migratedPostgres(cleanup);
    let late: Promise<unknown> | undefined;
    await pgx.atomically(async () => {
      await pgx.db().insert(users).values(user('kept'));
      await expect(
        pgx.atomically(async () => {
          await pgx.db().insert(users).values(user('undone'));
          throw new Error('nested refusal');
        }),
      ).rejects.toThrow('nested refusal');
      // Started inside, run after the commit: it must not reach for the finished transaction.
      late = new Promise((resolve, reject) =>
        setImmediate(() => {
          expect(pgx.inTransaction()).toBe(false);
          pgx.db().insert(users).values(user('late')).then(resolve, reject);
        }),
      );
    });
    await late;
    const ids = (await pgx.db().select({ id: users.id }).from(users)).map((r) => r.id).sort();
    expect(ids).toEqual(['kept', 'late']);
  });
});

describe('PG-12: several processes starting at once migrate the database once', () => {
  it('four connections opening the same empty database at the same moment all come up', async () => {
    const { server } = await migratedPostgres(cleanup).then(async (m) => {
      // A second, empty database on the same server.
      await m.pgx.pool.query('CREATE DATABASE empty');
      return m;
    });
    const url = server.url.replace(/\/postgres$/, '/empty');
    const opened = await Promise.all(
      [1, 2, 3, 4].map(() => openPostgres(url, { max: 1, log: () => {} })),
    );
    for (const o of opened) cleanup.push(() => o.close());
    const applied = await opened[0]!.pool.query(
      'select count(*)::int as n from drizzle.__drizzle_migrations',
    );
    expect(applied.rows[0].n).toBe(pgMigrationCount());
  });
});

import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { asc, eq, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import { getTableConfig } from 'drizzle-orm/pg-core';
import * as tables from '#schema/db/pg-tables.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { pgMigrationCount } from '../helpers/pg-db.ts';
import { startPostgres } from '../helpers/postgres.ts';

const cleanup = cleanupAfterEach();
const migrationsFolder = 'server/store/pg-migrations';

/** A throwaway PostgreSQL with server/store/pg-migrations applied by drizzle's migrate(). */
async function migrated() {
  const server = await startPostgres(cleanup);
  const pool = new pg.Pool({ connectionString: server.url, max: 2 });
  cleanup.push(() => pool.end());
  const db = drizzle(pool);
  await migrate(db, { migrationsFolder });
  return { pool, db };
}

describe('PG-6: the PostgreSQL migrations build pg-tables.ts on a real PostgreSQL', () => {
  it('applies once, and the database has every table, column and index of pg-tables.ts', async () => {
    const { pool, db } = await migrated();
    // Applying again (a second process starting) changes nothing.
    await migrate(db, { migrationsFolder });
    const applied = await pool.query('select count(*)::int as n from drizzle.__drizzle_migrations');
    expect(applied.rows[0].n).toBe(pgMigrationCount());

    const columns = await pool.query<{ table_name: string; column_name: string }>(
      `select table_name, column_name from information_schema.columns where table_schema = 'public'`,
    );
    // Every index but the primary keys' (drizzle names those itself).
    const indexes = await pool.query<{ tablename: string; indexname: string }>(
      `select t.relname as tablename, i.relname as indexname from pg_index x
         join pg_class i on i.oid = x.indexrelid join pg_class t on t.oid = x.indrelid
         join pg_namespace n on n.oid = t.relnamespace
        where n.nspname = 'public' and not x.indisprimary`,
    );
    const inDb = (table: string) => ({
      columns: columns.rows
        .filter((r) => r.table_name === table)
        .map((r) => r.column_name)
        .sort(),
      indexes: indexes.rows
        .filter((r) => r.tablename === table)
        .map((r) => r.indexname)
        .sort(),
    });
    const names = Object.values(tables).map((t) => getTableConfig(t).name);
    expect(new Set(columns.rows.map((r) => r.table_name))).toEqual(new Set(names));
    // A pg-tables.ts change without `npm run db:generate:pg` fails here.
    for (const t of Object.values(tables)) {
      const c = getTableConfig(t);
      expect({ table: c.name, ...inDb(c.name) }).toEqual({
        table: c.name,
        columns: c.columns.map((col) => col.name).sort(),
        indexes: c.indexes.map((i) => i.config.name).sort(),
      });
    }
    // The partial indexes stay partial.
    const partial = await pool.query<{ indexname: string }>(
      `select indexname from pg_indexes where schemaname = 'public' and indexdef like '% WHERE %' order by 1`,
    );
    const declaredPartial = Object.values(tables)
      .flatMap((t) => getTableConfig(t).indexes.filter((i) => i.config.where))
      .map((i) => i.config.name)
      .sort();
    expect(declaredPartial).toContain('releases_replicated');
    expect(partial.rows.map((r) => r.indexname)).toEqual(declaredPartial);
  });

  it('writes and reads rows with the same JS values as SQLite (times, booleans, bytes, JSON)', async () => {
    const { pool, db } = await migrated();
    const now = Date.now();
    await db.insert(tables.users).values({
      id: 'u1',
      email: 'ada@example.com',
      name: 'Ada',
      passwordHash: 'h',
      createdAt: now,
    });
    expect(await db.select().from(tables.users)).toEqual([
      {
        id: 'u1',
        email: 'ada@example.com',
        name: 'Ada',
        passwordHash: 'h',
        isInstanceAdmin: false,
        createdAt: now,
      },
    ]);

    await db
      .insert(tables.projects)
      .values({ id: 'p1', name: 'P', preset: 'five', createdBy: 'u1', createdAt: now });
    const [project] = await db.select().from(tables.projects);
    expect(project!.flowRules).toBe('{}');
    await db.insert(tables.environments).values({
      id: 'e1',
      projectId: 'p1',
      name: 'DEV',
      kind: 'dev',
      position: 0,
      color: 'blue',
    });
    await db.insert(tables.projectMembers).values({
      projectId: 'p1',
      userId: 'u1',
      roles: { e1: ['editor', 'approver'] },
      updatedBy: 'u1',
      updatedAt: now,
    });
    const [member] = await db.select().from(tables.projectMembers);
    expect(member!.roles).toEqual({ e1: ['editor', 'approver'] });
    // Stored as the JSON text SQLite's json mode writes.
    const raw = await pool.query('select roles from project_members');
    expect(raw.rows[0].roles).toBe('{"e1":["editor","approver"]}');

    await db.insert(tables.drafts).values({
      id: 'd1',
      projectId: 'p1',
      environmentId: 'e1',
      kind: 'workspace',
      createdAt: now,
      sections: ['agents'],
    });
    const [draft] = await db.select().from(tables.drafts);
    expect(draft!.sections).toEqual(['agents']);
    expect(draft!.closedAt).toBeNull();

    // Bytes round-trip; seq comes from the identity; a time past 2^32 stays a number.
    const update = Buffer.from([0, 1, 2, 255]);
    const [row] = await db
      .insert(tables.draftUpdates)
      .values({ draftId: 'd1', update, createdAt: 2 ** 52 })
      .returning();
    expect(row).toEqual({ seq: 1, draftId: 'd1', update, createdAt: 2 ** 52 });
    // An explicit seq is accepted (a copy from SQLite keeps its numbers).
    await db
      .insert(tables.draftUpdates)
      .values({ seq: 41, draftId: 'd1', update: Buffer.from([7]), createdAt: now });
    const seqs = await db
      .select({ seq: tables.draftUpdates.seq })
      .from(tables.draftUpdates)
      .orderBy(asc(tables.draftUpdates.seq));
    expect(seqs.map((s) => s.seq)).toEqual([1, 41]);

    // A hashed record keeps its exact bytes (spacing, key order, non-ASCII).
    const detail = '{"section": "agents",  "note":"é ✓", "a":1}';
    await db.insert(tables.releases).values({
      projectId: 'p1',
      environmentId: 'e1',
      kind: 'replicate',
      pointer: 'current',
      toSnapshotId: 's1',
      actorId: 'u1',
      detail,
      createdAt: now,
      prevHash: '0'.repeat(64),
      hash: 'f'.repeat(64),
    });
    const [release] = await db
      .select()
      .from(tables.releases)
      .where(eq(tables.releases.kind, 'replicate'));
    expect(release!.detail).toBe(detail);
    // The partial expression index answers the board's "last replicated" question.
    const last = await db
      .select({ seq: tables.releases.seq })
      .from(tables.releases)
      .where(
        sql`${tables.releases.environmentId} = 'e1' and ${tables.releases.kind} = 'replicate' and (${tables.releases.detail}::jsonb ->> 'section') = 'agents'`,
      );
    expect(last).toEqual([{ seq: 1 }]);

    // Foreign keys cascade as on SQLite.
    await db.delete(tables.projects).where(eq(tables.projects.id, 'p1'));
    expect(await db.select().from(tables.environments)).toEqual([]);
    expect(await db.select().from(tables.draftUpdates)).toEqual([]);
    expect(await db.select().from(tables.projectMembers)).toEqual([]);
  });
});

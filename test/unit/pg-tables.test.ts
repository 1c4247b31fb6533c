import { describe, expect, expectTypeOf, it } from 'vitest';
import type { InferInsertModel, InferSelectModel, Table } from 'drizzle-orm';
import { getTableConfig as sqliteConfig, type SQLiteTable } from 'drizzle-orm/sqlite-core';
import { getTableConfig as pgConfig, type PgTable } from 'drizzle-orm/pg-core';
import * as lite from '#schema/db/tables.ts';
import * as pg from '#schema/db/pg-tables.ts';

type Lite = typeof lite;
type Pg = typeof pg;
type Name = keyof Lite;

/** Row types of every table of a table file, by export name. */
type Selected<F extends Record<Name, Table>> = { [K in Name]: InferSelectModel<F[K]> };
type Inserted<F extends Record<Name, Table>> = { [K in Name]: InferInsertModel<F[K]> };

describe('PG-4: one set of row types serves both table files', () => {
  it('both files export the same tables', () => {
    // Checked by tsc (test/ is in tsconfig.json): a table in one file only fails here.
    expectTypeOf<keyof Pg>().toEqualTypeOf<Name>();
  });

  it('every table reads and writes the same row type on SQLite and PostgreSQL', () => {
    // A column added to one file only, or a column whose JS type differs (a bigint read as a
    // string, a boolean as a number, JSON as a string), fails tsc here.
    expectTypeOf<Selected<Pg>>().toEqualTypeOf<Selected<Lite>>();
    expectTypeOf<Inserted<Pg>>().toEqualTypeOf<Inserted<Lite>>();
  });

  it('a differing column is caught (the check is not vacuous)', () => {
    type Users = InferSelectModel<Lite['users']>;
    expectTypeOf<Users & { extra: string }>().not.toEqualTypeOf<InferSelectModel<Pg['users']>>();
    expectTypeOf<Omit<Users, 'createdAt'> & { createdAt: string }>().not.toEqualTypeOf<
      InferSelectModel<Pg['users']>
    >();
  });
});

interface Shape {
  table: string;
  columns: string[];
  notNull: string[];
  primaryKey: string[];
  indexes: string[];
  uniqueIndexes: string[];
  foreignKeys: string[];
}

function liteShape(t: SQLiteTable): Shape {
  const c = sqliteConfig(t);
  return {
    table: c.name,
    columns: c.columns.map((col) => col.name).sort(),
    notNull: c.columns
      .filter((col) => col.notNull)
      .map((col) => col.name)
      .sort(),
    primaryKey: [
      ...c.columns.filter((col) => col.primary).map((col) => col.name),
      ...c.primaryKeys.flatMap((pk) => pk.columns.map((col) => col.name)),
    ],
    indexes: c.indexes.map((i) => i.config.name).sort(),
    uniqueIndexes: c.indexes
      .filter((i) => i.config.unique)
      .map((i) => i.config.name)
      .sort(),
    foreignKeys: c.foreignKeys
      .map((fk) => {
        const r = fk.reference();
        return `${r.columns.map((col) => col.name).join(',')}→${sqliteConfig(r.foreignTable).name}`;
      })
      .sort(),
  };
}

function pgShape(t: PgTable): Shape {
  const c = pgConfig(t);
  return {
    table: c.name,
    columns: c.columns.map((col) => col.name).sort(),
    notNull: c.columns
      .filter((col) => col.notNull)
      .map((col) => col.name)
      .sort(),
    primaryKey: [
      ...c.columns.filter((col) => col.primary).map((col) => col.name),
      ...c.primaryKeys.flatMap((pk) => pk.columns.map((col) => col.name)),
    ],
    indexes: c.indexes.map((i) => i.config.name ?? '').sort(),
    uniqueIndexes: c.indexes
      .filter((i) => i.config.unique)
      .map((i) => i.config.name ?? '')
      .sort(),
    foreignKeys: c.foreignKeys
      .map((fk) => {
        const r = fk.reference();
        return `${r.columns.map((col) => col.name).join(',')}→${pgConfig(r.foreignTable).name}`;
      })
      .sort(),
  };
}

describe('PG-5: both table files have the same tables, columns and indexes', () => {
  it('the same exports, table names and column names', () => {
    expect(Object.keys(pg).sort()).toEqual(Object.keys(lite).sort());
    for (const name of Object.keys(lite) as Name[]) {
      const a = liteShape(lite[name]);
      const b = pgShape(pg[name]);
      expect({ name, ...b }).toEqual({ name, ...a });
    }
  });

  it('partial indexes stay partial', () => {
    const partial = (t: PgTable) =>
      pgConfig(t)
        .indexes.filter((i) => i.config.where)
        .map((i) => i.config.name);
    const livePartial = (t: SQLiteTable) =>
      sqliteConfig(t)
        .indexes.filter((i) => i.config.where)
        .map((i) => i.config.name);
    for (const name of Object.keys(lite) as Name[]) {
      expect(partial(pg[name])).toEqual(livePartial(lite[name]));
    }
    expect(partial(pg.feedback)).toEqual(['feedback_open']);
    expect(partial(pg.releases)).toEqual(['releases_replicated']);
  });
});

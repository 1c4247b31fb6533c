import { eq, sql } from 'drizzle-orm';
import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type OpenDatabase } from '#server/store/db.ts';
import { tempDataDir } from '../helpers/server.ts';

const open: OpenDatabase[] = [];
afterEach(async () => {
  for (const db of open.splice(0)) await db.close();
});

describe('the SQLite connection', () => {
  it('reuses statements by SQL text without leaking raw mode from one use to the next, and never hands out a busy one', () => {
    const database = openDatabase(tempDataDir(), 'normal');
    open.push(database);
    const { sqlite } = database;
    sqlite.exec("CREATE TABLE t (a INTEGER, b TEXT); INSERT INTO t VALUES (1, 'x'), (2, 'y')");
    const sql = 'SELECT a, b FROM t ORDER BY a';
    expect(sqlite.prepare(sql).raw().all()).toEqual([
      [1, 'x'],
      [2, 'y'],
    ]);
    expect(sqlite.prepare(sql)).toBe(sqlite.prepare(sql));
    expect(sqlite.prepare(sql).all()).toEqual([
      { a: 1, b: 'x' },
      { a: 2, b: 'y' },
    ]);
    const iterating = sqlite.prepare(sql).iterate();
    iterating.next();
    expect(sqlite.prepare(sql).get()).toEqual({ a: 1, b: 'x' });
    iterating.return?.();
  });
});

describe('drizzle queries prepared once beside queries built per call', () => {
  it('a prepared query and a per-call one of the same SQL share a cached statement, and each answers objects of its own shape in any order', () => {
    const database = openDatabase(tempDataDir(), 'normal');
    open.push(database);
    const { db, sqlite } = database;
    sqlite.exec("CREATE TABLE t (a INTEGER, b TEXT); INSERT INTO t VALUES (1, 'x'), (2, 'y')");
    const t = sqliteTable('t', { a: integer('a'), b: text('b') });
    // As the stores do (accounts, projects, local, jobs): built once, run with placeholders.
    const prepared = db
      .select()
      .from(t)
      .where(eq(t.a, sql.placeholder('a')))
      .prepare();
    const oneTime = (a: number) => db.select().from(t).where(eq(t.a, a)).get();
    const rawRead = () => db.all(sql`SELECT a, b FROM t ORDER BY a`);
    for (let round = 0; round < 2; round++) {
      expect(prepared.get({ a: 1 })).toEqual({ a: 1, b: 'x' });
      expect(oneTime(2)).toEqual({ a: 2, b: 'y' });
      expect(rawRead()).toEqual([
        { a: 1, b: 'x' },
        { a: 2, b: 'y' },
      ]);
      expect(prepared.all({ a: 2 })).toEqual([{ a: 2, b: 'y' }]);
    }
  });
});

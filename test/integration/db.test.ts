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

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, expect, it } from 'vitest';
import { startCheckpointer } from '#server/store/checkpointer.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

it('the WAL checkpoint worker copies committed pages into the database file from its own thread', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'checkpointer-'));
  dirs.push(dir);
  const file = path.join(dir, 'db.sqlite');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('wal_autocheckpoint = 0'); // as server/store/db.ts: only the worker checkpoints
  db.exec('CREATE TABLE t (v BLOB)');
  const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
  for (let i = 0; i < 64; i++) insert.run(Buffer.alloc(16 * 1024, i));
  const before = fs.statSync(file).size;
  const logged: string[] = [];

  const checkpointer = startCheckpointer(file, 10, (msg) => logged.push(msg));
  await expect.poll(() => fs.statSync(file).size).toBeGreaterThan(before + 64 * 16 * 1024);
  await checkpointer.stop();
  db.close();
  expect(logged).toEqual([]);
});

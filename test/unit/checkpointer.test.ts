import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
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

it('stopping the worker keeps a process that has nothing else to do alive until it ended: the close after it runs', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'checkpointer-'));
  dirs.push(dir);
  const file = path.join(dir, 'db.sqlite');
  const module = pathToFileURL(path.resolve('server/store/checkpointer.ts')).href;
  // Nothing but the stop holds this process once the worker runs (its connection made the file):
  // an unreferenced worker let it exit in the middle of the await, before anything after it.
  const script = path.join(dir, 'stop.mjs');
  fs.writeFileSync(
    script,
    `import fs from 'node:fs';
    import { startCheckpointer } from ${JSON.stringify(module)};
    const file = ${JSON.stringify(file)};
    const checkpointer = startCheckpointer(file, 60000, console.error);
    while (!fs.existsSync(file)) await new Promise((r) => setTimeout(r, 5));
    await checkpointer.stop();
    console.log('stopped');`,
  );
  const out = execFileSync(process.execPath, [script], { encoding: 'utf8', timeout: 15_000 });
  expect(out.trim()).toBe('stopped');
});

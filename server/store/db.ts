import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import * as tables from '#schema/db/tables.ts';
import { startCheckpointer } from './checkpointer.ts';
import { privateDir, privateFile, tightenFile } from './private-files.ts';
import { createSqliteTransactions, type SqliteTransactions } from './sqlite-port.ts';

export type Db = BetterSQLite3Database<typeof tables>;

export interface OpenDatabase {
  db: Db;
  sqlite: Database.Database;
  /** Transactions spanning several store calls, and each store's port (PG-10, PG-13). */
  transactions: SqliteTransactions;
  close(): Promise<void>;
}

const here = path.dirname(fileURLToPath(import.meta.url));
// From source this file is server/store/; in the bundle (dist/server.js) the repository root is one up.
export const sqliteMigrationsFolder = [
  path.join(here, 'migrations'),
  path.join(here, '..', 'server', 'store', 'migrations'),
].find((p) => fs.existsSync(p))!;

/**
 * Drizzle prepares a new SQLite statement for every query it runs; preparing was 18 % of the
 * server's CPU on the delivery API (bench/delivery.ts). Statements are reused by SQL text
 * instead. Re-measured 2026-11-30 (`npm run bench:delivery`, same busy 2-core machine, back to
 * back): with the cache 2,074 req/s (304) and 1,288 (200); without it 1,413 and 872 — it stays. Drizzle switches a statement to raw (array) mode when it wants arrays and assumes
 * object mode otherwise, so a reused reader is switched back to object mode; a statement
 * still iterating is never handed out twice. The hottest reads are drizzle queries prepared once
 * (accounts, projects, local, jobs): they hold their statement for the store's life, so one may
 * be shared with a per-call query of the same SQL. That is safe because drizzle sets raw mode
 * before every select it runs and nothing here iterates, plucks or expands a drizzle statement
 * (test/integration/db.test.ts).
 */
function cacheStatements(sqlite: Database.Database): void {
  const prepare = sqlite.prepare.bind(sqlite);
  const cache = new Map<string, Database.Statement>();
  sqlite.prepare = ((source: string) => {
    const cached = cache.get(source);
    if (cached && !cached.busy) {
      if (cached.reader) cached.raw(false);
      return cached;
    }
    const stmt = prepare(source);
    if (!cached) {
      if (cache.size >= 1000) cache.clear();
      cache.set(source, stmt);
    }
    return stmt;
  }) as typeof sqlite.prepare;
}

/** How often the worker checkpoints the WAL into the database file. */
const CHECKPOINT_EVERY_MS = 1000;

/** Opens (creating the folder if needed) and migrates the SQLite database in `dataDir`. */
export function openDatabase(
  dataDir: string,
  synchronous: 'normal' | 'full',
  log: (msg: string) => void = console.error,
): OpenDatabase {
  privateDir(dataDir, log);
  const file = path.join(dataDir, 'stagecoach.sqlite');
  privateFile(file, log);
  for (const extra of ['-wal', '-shm']) tightenFile(file + extra, log);
  const sqlite = new Database(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma(`synchronous = ${synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
  sqlite.pragma('foreign_keys = ON');
  // Checkpoints run on a worker thread (checkpointer.ts), never inside a commit on the event loop.
  sqlite.pragma('wal_autocheckpoint = 0');
  sqlite.pragma(`journal_size_limit = ${64 * 1024 * 1024}`);
  // Short: a write that waits blocks the event loop. A draft append that meets a lock held by
  // another process fails fast, keeps its updates in memory and is retried (see Room.flush).
  sqlite.pragma('busy_timeout = 200');
  cacheStatements(sqlite);
  const db = drizzle({ client: sqlite, schema: tables });
  migrate(db, { migrationsFolder: sqliteMigrationsFolder });
  const checkpointer = startCheckpointer(file, CHECKPOINT_EVERY_MS, log);
  return {
    db,
    sqlite,
    transactions: createSqliteTransactions(sqlite),
    async close() {
      await checkpointer.stop();
      // The last connection to close checkpoints the WAL into the database.
      if (sqlite.open) sqlite.close();
    },
  };
}

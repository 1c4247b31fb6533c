import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { getTableName, is, sql, type SQL } from 'drizzle-orm';
import { getTableConfig as sqliteConfig, SQLiteTable } from 'drizzle-orm/sqlite-core';
import { getTableConfig as pgConfig, PgTable } from 'drizzle-orm/pg-core';
import * as sqliteTables from '#schema/db/tables.ts';
import * as pgTables from '#schema/db/pg-tables.ts';
import { sqliteMigrationsFolder } from '../db.ts';
import { SERVER_APPLICATION_NAME, type PgDb } from './db.ts';

/**
 * Moving a SQLite installation into PostgreSQL (PG-53 … PG-58): the source read in one read
 * transaction, every table copied verbatim (stored JSON text byte for byte, identity values kept)
 * in foreign-key order, inside the caller's one PostgreSQL transaction.
 */

/** Why a copy stopped; `exitCode` is what `npm run migrate-to-postgres` exits with (PG-57). */
export class CopyStopped extends Error {
  readonly exitCode: number;
  constructor(exitCode: number, message: string) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** Exit codes of `npm run migrate-to-postgres` (PG-57). */
export const EXIT = {
  ok: 0,
  /** Anything unforeseen (PostgreSQL unreachable, a row PostgreSQL refuses): nothing was written. */
  failed: 1,
  /** Bad arguments or DATABASE_URL. */
  usage: 2,
  /** The folder holds no Stagecoach database, or one not migrated to this version. */
  badSource: 3,
  /** The target already holds data: nothing was written. */
  targetNotEmpty: 4,
  /** The copy did not verify (counts, content hashes, hash chains): nothing was written. */
  notVerified: 5,
  /** Another process (a server still running) has the source open. */
  sourceInUse: 6,
  /** Rows hold text PostgreSQL cannot store (NUL), each named: nothing was written. */
  unstorableText: 7,
  /** A server is connected to the target: nothing was written. */
  targetInUse: 8,
} as const;

/** One table as both dialects name it. */
export interface TablePair {
  /** The export name in tables.ts and pg-tables.ts (the same, PG-5). */
  key: string;
  name: string;
  sqlite: SQLiteTable;
  pg: PgTable;
}

/** Every table, parents before the tables whose foreign keys point at them. */
export function tablesInForeignKeyOrder(): TablePair[] {
  const pairs = new Map<string, TablePair>();
  for (const [key, t] of Object.entries(sqliteTables)) {
    if (!is(t, SQLiteTable)) continue;
    const pg = (pgTables as Record<string, unknown>)[key];
    if (!is(pg, PgTable)) throw new Error(`pg-tables.ts has no table ${key}`);
    pairs.set(getTableName(t), { key, name: getTableName(t), sqlite: t, pg });
  }
  const ordered: TablePair[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string): void => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') throw new Error(`foreign keys form a cycle at ${name}`);
    state.set(name, 'visiting');
    const pair = pairs.get(name)!;
    for (const fk of sqliteConfig(pair.sqlite).foreignKeys) {
      const parent = getTableName(fk.reference().foreignTable);
      if (parent !== name) visit(parent);
    }
    state.set(name, 'done');
    ordered.push(pair);
  };
  for (const name of [...pairs.keys()].sort()) visit(name);
  return ordered;
}

const sqliteJournal = path.join(sqliteMigrationsFolder, 'meta', '_journal.json');

/** The source: DATA_DIR/stagecoach.sqlite opened read-only, inside one read transaction. */
export interface Source {
  file: string;
  sqlite: Database.Database;
  /** Row count of a table, in the same read transaction as the copy. */
  count(table: string): number;
  close(): void;
}

/**
 * Processes other than this one holding SQLite's locks on `file` or its `-shm` (PG-58): every
 * open connection of a WAL database keeps a read lock there for its whole life, and Linux lists
 * them in /proc/locks. Elsewhere (no /proc/locks) nothing is found.
 */
export function processesHolding(file: string): number[] {
  let locks: string;
  try {
    locks = fs.readFileSync('/proc/locks', 'utf8');
  } catch {
    return [];
  }
  const ids = new Set<string>();
  for (const f of [file, `${file}-shm`]) {
    if (!fs.existsSync(f)) continue;
    const { dev, ino } = fs.statSync(f);
    const major = (dev >> 8) & 0xfff;
    const minor = (dev & 0xff) | ((dev >> 12) & 0xfff00);
    ids.add(`${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}:${ino}`);
  }
  const pids = new Set<number>();
  for (const line of locks.split('\n')) {
    // "1: POSIX  ADVISORY  READ 18360 fe:00:4310624 128 128" (a blocked waiter has "->" first).
    const fields = line.replace('->', '').trim().split(/\s+/);
    const pid = Number(fields[4]);
    if (fields[5] && ids.has(fields[5]) && pid > 0 && pid !== process.pid) pids.add(pid);
  }
  return [...pids];
}

/**
 * Opens the installation read-only and starts the read transaction every later read shares, so
 * the copy is one consistent state even if something still writes (which it then does not see).
 */
export function openSource(dataDir: string): Source {
  const file = path.join(dataDir, 'stagecoach.sqlite');
  if (!fs.existsSync(file))
    throw new CopyStopped(
      EXIT.badSource,
      `${file} does not exist: --from names no Stagecoach data folder.`,
    );
  const holders = processesHolding(file);
  if (holders.length > 0)
    throw new CopyStopped(
      EXIT.sourceInUse,
      `${file} is open in process ${holders.join(', ')} (a server still running?): stop it, then copy. A copy taken while it runs would miss what it writes afterwards.`,
    );
  let sqlite: Database.Database;
  try {
    sqlite = new Database(file, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new CopyStopped(EXIT.badSource, `${file} cannot be opened: ${(err as Error).message}`);
  }
  try {
    sqlite.exec('BEGIN');
    // A deferred transaction takes its snapshot at the first read.
    const migrated = sqlite
      .prepare('SELECT max(created_at) AS last FROM __drizzle_migrations')
      .get() as { last: number | null } | undefined;
    const entries = (
      JSON.parse(fs.readFileSync(sqliteJournal, 'utf8')) as {
        entries: { when: number; tag: string }[];
      }
    ).entries;
    const latest = entries[entries.length - 1]!;
    if (!migrated?.last || migrated.last !== latest.when)
      throw new CopyStopped(
        EXIT.badSource,
        `${file} is not at this version's schema (its last migration is not ${latest.tag}): start this version of Stagecoach on it once (it migrates at start), stop it, then copy.`,
      );
  } catch (err) {
    sqlite.close();
    if (err instanceof CopyStopped) throw err;
    throw new CopyStopped(
      EXIT.badSource,
      `${file} is not a Stagecoach database: ${(err as Error).message}`,
    );
  }
  return {
    file,
    sqlite,
    count: (table) =>
      (sqlite.prepare(`SELECT count(*) AS n FROM "${table}"`).get() as { n: number }).n,
    close() {
      if (sqlite.inTransaction) sqlite.exec('ROLLBACK');
      sqlite.close();
    },
  };
}

/** Rows named at most, per column, when text PostgreSQL cannot store is found. */
const MAX_NAMED_ROWS = 20;

/**
 * Where the source holds text PostgreSQL cannot store (PG-183): U+0000 in any text column, which
 * SQLite kept (written before PG-182 refused it at the edge). One line per row: table, column and
 * the row's key, so the operator can find it; an empty list when there is none. Read in the
 * source's read transaction, before anything is written.
 */
export function unstorableText(source: Source, tables: readonly TablePair[]): string[] {
  const found: string[] = [];
  for (const t of tables) {
    const config = sqliteConfig(t.sqlite);
    const keys =
      config.primaryKeys[0]?.columns.map((c) => c.name) ??
      config.columns.filter((c) => c.primary).map((c) => c.name);
    const key = keys.length > 0 ? keys : ['rowid'];
    for (const column of config.columns) {
      if (column.getSQLType() !== 'text') continue;
      const rows = source.sqlite
        .prepare(
          `SELECT ${key.map((k) => `"${k}"`).join(', ')} FROM "${t.name}" WHERE instr(CAST("${column.name}" AS BLOB), x'00') > 0 LIMIT ${MAX_NAMED_ROWS + 1}`,
        )
        .raw(true)
        .all() as unknown[][];
      for (const [i, row] of rows.entries()) {
        if (i === MAX_NAMED_ROWS) {
          found.push(`table ${t.name}, column ${column.name}: more rows than these`);
          break;
        }
        const id = key.map((k, j) => `${k}=${String(row[j])}`).join(', ');
        found.push(`table ${t.name}, row ${id}, column ${column.name}: holds U+0000 (NUL)`);
      }
    }
  }
  return found;
}

/**
 * Stops every server's writes to the target until the copy commits (PG-186): each table locked
 * EXCLUSIVE in the copy's transaction (reads go on, writes wait), then the servers connected to it
 * counted (their connections carry SERVER_APPLICATION_NAME). One connected: the copy stops, since
 * whatever it wrote before would be beside the copy, and whatever it waits to write after. A
 * server that connects later finds the tables locked and, once the copy committed, the data.
 */
export async function lockTarget(db: PgDb, tables: readonly TablePair[]): Promise<void> {
  await db.execute(
    sql`LOCK TABLE ${sql.join(
      tables.map((t) => sql.identifier(t.name)),
      sql`, `,
    )} IN EXCLUSIVE MODE`,
  );
  const servers = await db.execute<{ n: string; addresses: string | null }>(sql`
    SELECT count(*) AS n, string_agg(DISTINCT coalesce(host(client_addr), 'a local socket'), ', ') AS addresses
    FROM pg_stat_activity
    WHERE datname = current_database() AND application_name = ${SERVER_APPLICATION_NAME}
      AND pid <> pg_backend_pid()`);
  const { n, addresses } = servers.rows[0]!;
  if (Number(n) > 0)
    throw new CopyStopped(
      EXIT.targetInUse,
      `A Stagecoach server is connected to the target (${n} connections, from ${addresses}): stop every server using DATABASE_URL, then copy. Nothing was written.`,
    );
}

/** Tables of the target that hold rows (the copy refuses them, PG-54). */
export async function nonEmptyTables(db: PgDb, tables: readonly TablePair[]): Promise<string[]> {
  const out: string[] = [];
  for (const t of tables) {
    const res = await db.execute<{ any: boolean }>(
      sql`SELECT EXISTS (SELECT 1 FROM ${sql.identifier(t.name)}) AS any`,
    );
    if (res.rows[0]!.any) out.push(t.name);
  }
  return out;
}

/**
 * One INSERT carries at most this many rows, and stops taking rows past this many bytes of
 * values (draft states may be megabytes each), so memory stays bounded whatever the source holds.
 */
const BATCH_ROWS = 500;
const BATCH_BYTES = 8 * 1024 * 1024;
/** PostgreSQL takes at most 65535 parameters in one statement. */
const MAX_PARAMS = 60_000;

const sizeOf = (v: unknown): number =>
  Buffer.isBuffer(v) ? v.length : typeof v === 'string' ? v.length * 2 : 8;

/** Copies one table verbatim; answers the rows copied. */
export async function copyTable(source: Source, db: PgDb, t: TablePair): Promise<number> {
  const columns = pgConfig(t.pg).columns;
  const names = columns.map((c) => c.name);
  // SQLite keeps booleans as 0/1; every other stored value is already what PostgreSQL takes.
  const boolean = columns.map((c) => c.getSQLType() === 'boolean');
  const list = sql.join(
    names.map((n) => sql.identifier(n)),
    sql`, `,
  );
  const perBatch = Math.min(BATCH_ROWS, Math.floor(MAX_PARAMS / names.length));
  let batch: SQL[] = [];
  let bytes = 0;
  let copied = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    await db.execute(
      sql`INSERT INTO ${sql.identifier(t.name)} (${list}) VALUES ${sql.join(batch, sql`, `)}`,
    );
    copied += batch.length;
    batch = [];
    bytes = 0;
  };
  const rows = source.sqlite
    .prepare(`SELECT ${names.map((n) => `"${n}"`).join(', ')} FROM "${t.name}"`)
    .raw(true)
    .iterate() as IterableIterator<unknown[]>;
  for (const row of rows) {
    const values = row.map((v, i) => (boolean[i] && v !== null ? v === 1 : v));
    batch.push(
      sql`(${sql.join(
        values.map((v) => sql`${v}`),
        sql`, `,
      )})`,
    );
    bytes += values.reduce<number>((n, v) => n + sizeOf(v), 0);
    if (batch.length >= perBatch || bytes >= BATCH_BYTES) await flush();
  }
  await flush();
  return copied;
}

/**
 * Moves each identity sequence past the largest copied value (the copy inserted explicit ones,
 * which do not advance it), so the next row the server inserts takes a new number.
 */
export async function advanceIdentities(db: PgDb): Promise<void> {
  const identities = await db.execute<{ table_name: string; column_name: string }>(
    sql`SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema() AND is_identity = 'YES'`,
  );
  for (const { table_name: table, column_name: column } of identities.rows) {
    const t = sql.identifier(table);
    const c = sql.identifier(column);
    await db.execute(
      sql`SELECT setval(pg_get_serial_sequence(${`"${table}"`}, ${column}), coalesce((SELECT max(${c}) FROM ${t}), 1), (SELECT max(${c}) FROM ${t}) IS NOT NULL)`,
    );
  }
}

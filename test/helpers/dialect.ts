import { createHash, randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import type Database from 'better-sqlite3';
import pg from 'pg';
import { freePort } from './postgres.ts';

/**
 * Which database the test helpers put servers on (PG-160): SQLite unless TEST_DIALECT=postgres
 * (the `postgres` Vitest project, vite.config.ts). On PostgreSQL every server a helper starts for
 * a data folder gets its own database, copied from a migrated template on the run's one
 * PostgreSQL, and the run's one Redis (test/helpers/pg-global-setup.ts).
 */
export const onPostgres = process.env.TEST_DIALECT === 'postgres';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The run's PostgreSQL server (`postgres://…/postgres`) and its migrated template database. */
    postgresUrl: string;
    postgresTemplate: string;
    redisUrl: string;
  }
}

/** Database per data folder: a server started again on the same folder finds its data again. */
const databases = new Map<string, Promise<{ url: string; nodeId: string; secrets: Secrets }>>();
interface Secrets {
  SECRETS_KEY: string;
  CLUSTER_SECRET: string;
}
let admin: pg.Pool | undefined;

function adminPool(): pg.Pool {
  admin ??= new pg.Pool({ connectionString: inject('postgresUrl'), max: 1 });
  return admin;
}

/**
 * Drops the databases this test file made and ends their pools (the server holds every file's:
 * memory, /dev/shm); test/helpers/each-file.ts calls it when a file ends.
 */
export async function dropFileDatabases(): Promise<void> {
  if (!onPostgres) return;
  const names = [...databases.values()];
  databases.clear();
  for (const p of pools.values()) await p.end();
  pools.clear();
  const pool = admin;
  admin = undefined;
  if (!pool) return;
  for (const d of names) {
    const name = new URL((await d).url).pathname.slice(1);
    await pool.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
  await pool.end();
}

function databaseFor(dataDir: string) {
  let d = databases.get(dataDir);
  if (!d) {
    d = (async () => {
      const tag = createHash('sha256')
        .update(`${dataDir}:${process.pid}`)
        .digest('hex')
        .slice(0, 16);
      const name = `t_${tag}`;
      await adminPool().query(
        `CREATE DATABASE ${name} TEMPLATE ${inject('postgresTemplate')} STRATEGY FILE_COPY`,
      );
      const base = inject('postgresUrl').replace(/\/postgres$/, '');
      return {
        url: `${base}/${name}`,
        nodeId: `n-${tag}`,
        // Each data folder its own keys: servers of other tests sharing the run's Redis can
        // neither read this one's control messages nor share its sign-in counts.
        secrets: {
          SECRETS_KEY: randomBytes(32).toString('base64'),
          CLUSTER_SECRET: randomBytes(36).toString('base64'),
        },
      };
    })();
    databases.set(dataDir, d);
  }
  return d;
}

/**
 * The environment a server for `dataDir` gets on this run's dialect: nothing on SQLite; on
 * PostgreSQL DATABASE_URL (this folder's database) and what the config requires with it, with
 * the port chosen here (PUBLIC_URL and INTERNAL_URL name it). `env` wins over all of it.
 */
export async function dialectEnv(
  dataDir: string,
  env: Record<string, string>,
): Promise<Record<string, string>> {
  if (!onPostgres || env.DATABASE_URL) return env;
  const db = await databaseFor(dataDir);
  const port = env.PORT && env.PORT !== '0' ? env.PORT : String(await freePort());
  const own = `http://127.0.0.1:${port}`;
  return {
    DATABASE_URL: db.url,
    REDIS_URL: inject('redisUrl'),
    NODE_ID: db.nodeId,
    INTERNAL_URL: own,
    PUBLIC_URL: own,
    ...db.secrets,
    ...env,
    PORT: port,
  };
}

/** A server's or services' database as a test reaches it: its data folder and, on SQLite, its connection. */
export interface StoredTarget {
  dataDir: string;
  readonly sqlite: Database.Database;
}

/** Rows as a test reads or writes them directly, on either dialect (SQL with `?` parameters). */
export interface Stored {
  all<T = Record<string, unknown>>(sql: string, ...params: unknown[]): Promise<T[]>;
  get<T = Record<string, unknown>>(sql: string, ...params: unknown[]): Promise<T | undefined>;
  /** A write: how many rows it changed. */
  run(sql: string, ...params: unknown[]): Promise<number>;
  /** Every row of a table, in a fixed order (by their JSON): to compare before and after. */
  dump(table: string): Promise<Record<string, unknown>[]>;
  /**
   * Storage that fails (as a full disk would) for `event` on `table` (`INSERT`, `UPDATE OF col`,
   * …) when `when` holds (SQL over NEW): a trigger raising `message`. Answers its removal.
   */
  refuse(
    name: string,
    table: string,
    event: string,
    opts?: { when?: string; message?: string },
  ): Promise<() => Promise<void>>;
}

/** On PostgreSQL counts and bigints come back as numbers, as SQLite gives them. */
const asNumber = {
  getTypeParser: (oid: number, format?: 'text' | 'binary') =>
    oid === 20 || oid === 1700 ? Number : pg.types.getTypeParser(oid, format),
};

const pools = new Map<string, pg.Pool>();
function poolOf(url: string): pg.Pool {
  let pool = pools.get(url);
  if (!pool) {
    pool = new pg.Pool({ connectionString: url, max: 2 });
    pool.on('error', () => {});
    pools.set(url, pool);
  }
  return pool;
}

/** `?` parameters as PostgreSQL's `$1, $2, …` (none of these tests' SQL holds a literal `?`). */
const numbered = (sql: string) => {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
};

const byJson = (rows: Record<string, unknown>[]) =>
  rows
    .map(
      (r) =>
        [
          JSON.stringify(r, (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('hex') : v)),
          r,
        ] as const,
    )
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, r]) => r);

/** The database behind a test server (TestServer, or testServices' answer), on its dialect. */
export function stored(target: StoredTarget): Stored {
  if (!onPostgres) {
    const db = () => target.sqlite;
    return {
      all: async <T>(sql: string, ...params: unknown[]) =>
        db()
          .prepare(sql)
          .all(...params) as T[],
      get: async <T>(sql: string, ...params: unknown[]) =>
        db()
          .prepare(sql)
          .get(...params) as T | undefined,
      run: async (sql, ...params) =>
        db()
          .prepare(sql)
          .run(...params).changes,
      dump: async (table) =>
        byJson(db().prepare(`SELECT * FROM ${table}`).all() as Record<string, unknown>[]),
      async refuse(name, table, event, { when, message = 'refused by the test' } = {}) {
        db().exec(
          `CREATE TRIGGER ${name} BEFORE ${event} ON ${table} ${when ? `WHEN ${when} ` : ''}BEGIN SELECT RAISE(ABORT, '${message}'); END`,
        );
        return async () => void db().exec(`DROP TRIGGER ${name}`);
      },
    };
  }
  const query = async <T>(sql: string, params: unknown[]) => {
    const { url } = await databaseFor(target.dataDir);
    return await poolOf(url).query<T & pg.QueryResultRow>({
      text: numbered(sql),
      values: params,
      types: asNumber,
    });
  };
  return {
    all: async <T>(sql: string, ...params: unknown[]) => (await query<T>(sql, params)).rows,
    get: async <T>(sql: string, ...params: unknown[]) => (await query<T>(sql, params)).rows[0],
    run: async (sql, ...params) => (await query(sql, params)).rowCount ?? 0,
    dump: async (table) =>
      byJson((await query<Record<string, unknown>>(`SELECT * FROM ${table}`, [])).rows),
    async refuse(name, table, event, { when, message = 'refused by the test' } = {}) {
      await query(
        `CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '${message}'; END $$`,
        [],
      );
      await query(
        `CREATE TRIGGER ${name} BEFORE ${event} ON ${table} FOR EACH ROW ${when ? `WHEN (${when}) ` : ''}EXECUTE FUNCTION ${name}()`,
        [],
      );
      return async () => {
        await query(`DROP TRIGGER ${name} ON ${table}`, []);
        await query(`DROP FUNCTION ${name}()`, []);
      };
    },
  };
}

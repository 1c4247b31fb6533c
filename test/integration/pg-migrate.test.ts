import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { drizzle as sqliteDrizzle } from 'drizzle-orm/better-sqlite3';
import { is, sql } from 'drizzle-orm';
import { SQLiteTable } from 'drizzle-orm/sqlite-core';
import type { PgTable } from 'drizzle-orm/pg-core';
import { describe, expect, it } from 'vitest';
import type { ProjectView } from '#schema/api.ts';
import type { WorkspaceContent } from '#schema/content/ydoc.ts';
import * as sqliteTables from '#schema/db/tables.ts';
import * as pgTables from '#schema/db/pg-tables.ts';
import { openPostgres, type Postgres } from '../../server/store/pg/db.ts';
import { hashItem } from '../../server/lib/hash.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { bundled } from '../helpers/bundles.ts';
import { startPostgres } from '../helpers/postgres.ts';
import { exited, spawnServer } from '../helpers/process.ts';
import { onPostgres, setupAdmin, tempDataDir } from '../helpers/server.ts';
import { startRedis } from '../helpers/redis.ts';
import { newUser, overTheWire } from '../helpers/fixture.ts';

/**
 * PG-53 … PG-58: `npm run migrate-to-postgres` copies an installation built through the real
 * server into a throwaway PostgreSQL, verifies it, and refuses a full target or a damaged source
 * without writing anything.
 */
const cleanup = cleanupAfterEach();

/**
 * A SQLite installation built through the real server (a process of its own) with something in
 * every kind of table that matters: a sample project, members, a gate and an approval request
 * (notifications), edits, three Syncs to production and a Publish, a secret, a webhook and its
 * deliveries. `crashed`: the server is killed (SIGKILL) right after a last edit, so the draft's
 * update log holds rows (a clean stop compacts them into its state) and the WAL is not
 * checkpointed; else it stops cleanly (SIGTERM).
 */
async function installation(stop: 'crashed' | 'stopped'): Promise<string> {
  const dataDir = tempDataDir();
  const { child, url } = await spawnServer(dataDir, {
    WEBHOOK_ALLOW_PRIVATE: '1',
    WEBHOOK_RETRY_SCHEDULE_MS: '3600000',
  });
  cleanup.push(() => child.kill('SIGKILL'));
  const admin = overTheWire(url, (await setupAdmin(url)).token);
  const project = await admin.ok<ProjectView>('POST', '/api/projects', {
    name: 'Support bots',
    sample: true,
  });
  const [dev, test, uat, staging, prod] = project.environments.map((e) => e.id);
  await admin.ok('POST', `/api/projects/${project.id}/webhooks`, {
    url: 'http://127.0.0.1:9/hook',
    events: ['*'],
  });
  await admin.ok('PUT', `/api/environments/${prod}/secrets/ORDERS_API_TOKEN`, { value: 's3cr3t' });
  const edit = async (title: string) => {
    const content = await admin.ok<WorkspaceContent>('GET', `/api/environments/${dev}/content`);
    Object.values(content.knowledge)[0]!.title = title;
    await admin.ok('PUT', `/api/environments/${dev}/content`, content);
  };
  for (let i = 0; i < 2; i++) {
    await edit(`Edited ${i}`);
    await admin.ok('POST', `/api/environments/${dev}/sync`, {});
  }
  for (const from of [test, uat, staging])
    await admin.ok('POST', `/api/environments/${from}/sync`, { confirmMissingSecrets: true });
  await admin.ok('POST', `/api/environments/${prod}/publish`, { confirmMissingSecrets: true });
  const dana = await newUser(admin, 'dana@example.com', 'Dev Dana');
  await admin.ok('PUT', `/api/projects/${project.id}/members/${dana.id}`, {
    roles: { [dev!]: ['viewer', 'editor', 'promoter'], [test!]: ['viewer'] },
  });
  await admin.ok('PUT', `/api/environments/${test}/gate`, {
    requiredApprovals: 1,
    allowSelfApproval: false,
  });
  await dana.ok('POST', `/api/environments/${dev}/requests`, { message: 'Ready for TEST' });
  // Answered only once appended to the draft's log (the room stays loaded for IDLE_MS after).
  await edit('Edited last');
  child.kill(stop === 'crashed' ? 'SIGKILL' : 'SIGTERM');
  expect((await exited(child)).code).toBe(stop === 'crashed' ? null : 0);
  return dataDir;
}

/** A stopped installation with one account, the sample project and one Sync (quicker to make). */
async function smallInstallation(): Promise<string> {
  const dataDir = tempDataDir();
  const { child, url } = await spawnServer(dataDir);
  cleanup.push(() => child.kill('SIGKILL'));
  const admin = overTheWire(url, (await setupAdmin(url)).token);
  const project = await admin.ok<ProjectView>('POST', '/api/projects', {
    name: 'Support bots',
    sample: true,
  });
  await admin.ok('POST', `/api/environments/${project.environments[0]!.id}/sync`, {});
  child.kill('SIGTERM');
  expect((await exited(child)).code).toBe(0);
  return dataDir;
}

/** Runs the script as a child process, as `npm run migrate-to-postgres` does. */
function migrate(args: string[], env: Record<string, string | undefined>) {
  const child = spawn(process.execPath, [bundled('migrate-to-postgres'), ...args], {
    cwd: process.cwd(),
    env: { ...process.env, DATABASE_URL: undefined, SECRETS_KEY: undefined, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once('close', (code) => resolve({ code, stdout, stderr })),
  );
}

const tableKeys = Object.keys(sqliteTables).filter((k) =>
  is((sqliteTables as Record<string, unknown>)[k], SQLiteTable),
);

/** Every row of every table, read through drizzle, in one order (rows compared as JS values). */
async function everyRow(read: (key: string) => Promise<unknown[]> | unknown[]) {
  const out: Record<string, unknown[]> = {};
  for (const key of tableKeys) {
    const rows = await read(key);
    out[key] = rows
      .map((r) => [JSON.stringify(r), r] as const)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, r]) => r);
  }
  return out;
}

const sqliteRows = async (dataDir: string) => {
  const sqlite = new Database(path.join(dataDir, 'stagecoach.sqlite'), { readonly: true });
  try {
    const db = sqliteDrizzle({ client: sqlite });
    return await everyRow((key) =>
      db
        .select()
        .from((sqliteTables as unknown as Record<string, SQLiteTable>)[key]!)
        .all(),
    );
  } finally {
    sqlite.close();
  }
};

const pgRows = (pgx: Postgres) =>
  everyRow((key) =>
    pgx
      .db()
      .select()
      .from((pgTables as unknown as Record<string, PgTable>)[key]!),
  );

async function openTarget(url: string): Promise<Postgres> {
  const pgx = await openPostgres(url, { max: 2, log: () => {} });
  cleanup.push(() => pgx.close());
  return pgx;
}

async function rowCount(pgx: Postgres): Promise<number> {
  let n = 0;
  for (const key of tableKeys) {
    const name = (pgTables as unknown as Record<string, PgTable>)[key]!;
    n += Number(
      (await pgx.db().execute<{ n: string }>(sql`SELECT count(*) AS n FROM ${name}`)).rows[0]!.n,
    );
  }
  return n;
}

// Each run is a Node process on the bundled script (this run's, test/helpers/bundles.ts).
describe('PG-53 … PG-58: npm run migrate-to-postgres', { timeout: 90_000 }, () => {
  it('PG-53 PG-55 copies every row, keeps identity values and moves the sequences past them, verifies, reports; PG-54 a second run refuses and changes nothing', async () => {
    const dataDir = await installation('crashed');
    // More blobs than one INSERT batch (500) and one verification page (1000) hold.
    const sqlite = new Database(path.join(dataDir, 'stagecoach.sqlite'));
    const insert = sqlite.prepare('INSERT INTO blobs (id, json) VALUES (?, ?)');
    sqlite.transaction(() => {
      for (let i = 0; i < 1200; i++) insert.run(hashItem(`{"n":${i}}`), `{"n":${i}}`);
    })();
    sqlite.close();
    const pg = await startPostgres(cleanup);
    const key = fs.readFileSync(path.join(dataDir, 'secrets.key'), 'utf8').trim();
    const run = await migrate(['--from', dataDir], { DATABASE_URL: pg.url, SECRETS_KEY: key });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/Verified: \d+ tables, \d+ rows, every count equal to SQLite's/);
    expect(run.stdout).toMatch(/the release chains of 1 projects \([1-9]\d* records\)/);
    expect(run.stdout).toMatch(/the audit chain \([1-9]\d* events\)/);
    expect(run.stdout).toContain(path.join(dataDir, 'secrets.key'));
    expect(run.stdout).toContain('The SECRETS_KEY set here is that key.');
    expect(run.stdout).not.toContain(key);

    const pgx = await openTarget(pg.url);
    const before = await sqliteRows(dataDir);
    const copied = await pgRows(pgx);
    expect(copied).toEqual(before);
    expect(before.blobs!.length).toBeGreaterThan(1200);
    expect(run.stdout).toContain(
      `${before.blobs!.length} blobs and ${before.snapshots!.length} snapshots hash to their ids`,
    );
    for (const key of [
      'draftUpdates',
      'snapshots',
      'blobs',
      'releases',
      'auditEvents',
      'projectMembers',
      'notifications',
      'webhooks',
      'webhookDeliveries',
      'secrets',
      'promotionRequests',
    ])
      expect(before[key]!.length, key).toBeGreaterThan(0);

    // A row the server inserts next takes a number after the copied ones.
    for (const [table, rows] of [
      ['releases', before.releases],
      ['audit_events', before.auditEvents],
      ['draft_updates', before.draftUpdates],
    ] as const) {
      const max = Math.max(...(rows as { seq: number }[]).map((r) => r.seq));
      const next = await pgx
        .db()
        .execute<{ n: string }>(sql`SELECT nextval(pg_get_serial_sequence(${table}, 'seq')) AS n`);
      expect(Number(next.rows[0]!.n), table).toBe(max + 1);
    }

    const again = await migrate(['--from', dataDir], { DATABASE_URL: pg.url });
    expect(again.code).toBe(4);
    expect(again.stderr).toContain('The target already holds data');
    expect(await pgRows(pgx)).toEqual(copied);
  });

  it('PG-56 a damaged source (a blob, a release record, an audit event altered) fails verification naming each, and leaves the target empty; PG-57 an unreachable target exits 1', async () => {
    const dataDir = await installation('stopped');
    const sqlite = new Database(path.join(dataDir, 'stagecoach.sqlite'));
    const blob = sqlite.prepare('SELECT id, json FROM blobs LIMIT 1').get() as {
      id: string;
      json: string;
    };
    // One byte: the last character of the item's JSON text.
    sqlite
      .prepare('UPDATE blobs SET json = ? WHERE id = ?')
      .run(`${blob.json.slice(0, -1)} `, blob.id);
    const release = sqlite.prepare('SELECT seq, project_id FROM releases LIMIT 1').get() as {
      seq: number;
      project_id: string;
    };
    sqlite.prepare("UPDATE releases SET message = 'rewritten' WHERE seq = ?").run(release.seq);
    sqlite.prepare("UPDATE audit_events SET kind = 'rewritten' WHERE seq = 2").run();
    sqlite.close();

    const pg = await startPostgres(cleanup);
    const run = await migrate(['--from', dataDir], { DATABASE_URL: pg.url });
    expect(run.code).toBe(5);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('The copy did not verify, so nothing was written');
    expect(run.stderr).toContain(`blob ${blob.id}: its content does not hash to its id`);
    expect(run.stderr).toContain(
      `release chain of project ${release.project_id}: Record ${release.seq}`,
    );
    expect(run.stderr).toContain('audit chain: event 2 was altered');
    expect(await rowCount(await openTarget(pg.url))).toBe(0);

    // PG-57: PostgreSQL unreachable is exit 1, naming the target with its password masked.
    const down = await migrate(['--from', dataDir], {
      DATABASE_URL: 'postgres://u:hunter2@127.0.0.1:1/db',
    });
    expect(down.code).toBe(1);
    expect(down.stderr).toContain('The copy into postgres://u:***@127.0.0.1:1/db failed');
    expect(down.stderr).not.toContain('hunter2');
  });

  it('PG-57 exits 2 without DATABASE_URL or --from, and 3 for a folder without a Stagecoach database, naming what is wrong', async () => {
    const empty = tempDataDir();
    const noUrl = await migrate(['--from', empty], {});
    expect([noUrl.code, noUrl.stderr]).toEqual([
      2,
      expect.stringContaining('DATABASE_URL: required'),
    ]);
    const badUrl = await migrate(['--from', empty], { DATABASE_URL: 'mysql://u:hunter2@h/db' });
    expect(badUrl.code).toBe(2);
    expect(badUrl.stderr).not.toContain('hunter2');
    const noFrom = await migrate([], { DATABASE_URL: 'postgres://u@127.0.0.1:1/db' });
    expect([noFrom.code, noFrom.stderr]).toEqual([2, expect.stringContaining('--from DATA_DIR')]);
    const noDb = await migrate(['--from', empty], { DATABASE_URL: 'postgres://u@127.0.0.1:1/db' });
    expect([noDb.code, noDb.stderr]).toEqual([
      3,
      expect.stringContaining(`${path.join(empty, 'stagecoach.sqlite')} does not exist`),
    ]);

    // A database an older version left (its last migration is not this version's).
    const old = new Database(path.join(empty, 'stagecoach.sqlite'));
    old.exec(
      'CREATE TABLE __drizzle_migrations (id INTEGER PRIMARY KEY, hash TEXT, created_at NUMERIC)',
    );
    old.prepare('INSERT INTO __drizzle_migrations (hash, created_at) VALUES (?, ?)').run('x', 1);
    old.close();
    const older = await migrate(['--from', empty], { DATABASE_URL: 'postgres://u@127.0.0.1:1/db' });
    expect([older.code, older.stderr]).toEqual([
      3,
      expect.stringContaining("is not at this version's schema"),
    ]);
  });

  it('PG-58 refuses an installation a running server has open (exit 6, naming the process), and copies it once the server stopped', async () => {
    const dataDir = tempDataDir();
    const { child } = await spawnServer(dataDir);
    cleanup.push(() => child.kill('SIGKILL'));
    const pg = await startPostgres(cleanup);
    const held = await migrate(['--from', dataDir], { DATABASE_URL: pg.url });
    expect([held.code, held.stderr]).toEqual([
      6,
      expect.stringContaining(`is open in process ${child.pid} (a server still running?)`),
    ]);
    expect(await rowCount(await openTarget(pg.url))).toBe(0);
    child.kill('SIGTERM');
    expect((await exited(child)).code).toBe(0);
    expect((await migrate(['--from', dataDir], { DATABASE_URL: pg.url })).code).toBe(0);
  });

  it('PG-183 a source holding NUL in text (a release message inside the chain, a person’s name) exits 7 naming each row by table, key and column, before writing anything', async () => {
    const dataDir = await smallInstallation();
    // Written before PG-182 refused such text at the edge.
    const sqlite = new Database(path.join(dataDir, 'stagecoach.sqlite'));
    const release = sqlite.prepare('SELECT seq FROM releases LIMIT 1').get() as { seq: number };
    sqlite
      .prepare('UPDATE releases SET message = ? WHERE seq = ?')
      .run('ship\u0000it', release.seq);
    const user = sqlite.prepare('SELECT id FROM users LIMIT 1').get() as { id: string };
    sqlite.prepare('UPDATE users SET name = ? WHERE id = ?').run('Ada\u0000', user.id);
    sqlite.close();

    const pg = await startPostgres(cleanup);
    const run = await migrate(['--from', dataDir], { DATABASE_URL: pg.url });
    expect(run.code).toBe(7);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('The source holds text PostgreSQL cannot store');
    expect(run.stderr).toContain(
      `table releases, row seq=${release.seq}, column message: holds U+0000 (NUL)`,
    );
    expect(run.stderr).toContain(`table users, row id=${user.id}, column name: holds U+0000`);
    expect(await rowCount(await openTarget(pg.url))).toBe(0);
  });

  it('PG-186 a server connected to the target stops the copy (exit 8, nothing written); a server started while the copy runs cannot make a first account beside it: never both a committed copy and a sign-up', async () => {
    const dataDir = await smallInstallation();
    const redis = await startRedis(cleanup);
    const users = async (url: string) =>
      Number(
        (
          await (
            await openTarget(url)
          )
            .db()
            .execute<{ n: string }>(sql`SELECT count(*) AS n FROM users`)
        ).rows[0]!.n,
      );

    const pg = await startPostgres(cleanup);
    const running = await spawnServer(tempDataDir(), onPostgres(pg.url, redis.url));
    cleanup.push(() => running.child.kill('SIGKILL'));
    const refused = await migrate(['--from', dataDir], { DATABASE_URL: pg.url });
    expect(refused.code).toBe(8);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toContain('A Stagecoach server is connected to the target');
    expect(await users(pg.url)).toBe(0);
    running.child.kill('SIGTERM');
    await exited(running.child);

    // The race: the copy starts, a server starts on the same target and signs up at once.
    const other = await startPostgres(cleanup);
    const copying = migrate(['--from', dataDir], { DATABASE_URL: other.url });
    const late = await spawnServer(tempDataDir(), onPostgres(other.url, redis.url));
    cleanup.push(() => late.child.kill('SIGKILL'));
    const signUp = await fetch(`${late.url}/api/setup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: late.url },
      body: JSON.stringify({
        email: 'eve@example.com',
        password: 'a long passphrase',
        name: 'Eve',
      }),
    });
    const copy = await copying;
    console.info(`PG-186 race: copy exited ${copy.code}, sign-up answered ${signUp.status}`);
    expect([0, 8]).toContain(copy.code);
    if (copy.code === 0) {
      expect(signUp.status).toBe(409);
      expect(await users(other.url)).toBe(1);
    } else {
      expect(copy.stdout).toBe('');
    }
    expect(copy.code === 0 && signUp.status === 201).toBe(false);
  });
});

/**
 * `npm run migrate-to-postgres -- --from DATA_DIR`: copies a SQLite installation into the
 * PostgreSQL database of DATABASE_URL and verifies the copy before it commits (PG-53 … PG-58).
 * Exit codes: EXIT in server/store/pg/copy-from-sqlite.ts (0 copied and verified; 2 usage;
 * 3 no usable source; 4 target not empty; 5 not verified; 6 source in use; 7 text PostgreSQL
 * cannot store; 8 a server connected to the target; 1 anything else).
 * Unless it exits 0, nothing was written but the schema (the migrations openPostgres applies).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { sql } from 'drizzle-orm';
import { ConfigError, loadDatabaseUrl, maskedUrl } from '../server/config.ts';
import { openPostgres, type Postgres } from '../server/store/pg/db.ts';
import {
  advanceIdentities,
  copyTable,
  CopyStopped,
  EXIT,
  lockTarget,
  nonEmptyTables,
  openSource,
  tablesInForeignKeyOrder,
  unstorableText,
  type Source,
} from '../server/store/pg/copy-from-sqlite.ts';
import { verifyCopy, type Verified } from '../server/store/pg/verify-copy.ts';

const USAGE = 'usage: DATABASE_URL=postgres://… npm run migrate-to-postgres -- --from DATA_DIR';

/** Two copies started at once: the second waits, then finds the target full. Any 64-bit key. */
const COPY_LOCK = 0x73746167_636f7079n;

function secretsKeyNote(dataDir: string, env: NodeJS.ProcessEnv): string {
  const file = path.join(dataDir, 'secrets.key');
  if (!fs.existsSync(file))
    return `Secrets: ${file} does not exist, so the old installation ran with SECRETS_KEY: run every process with that same SECRETS_KEY.`;
  const lines = [
    `Secrets: every process must run with SECRETS_KEY set to the old installation's key, kept in ${file} (its contents, base64; not printed here). Without it sealed secrets and webhook signing secrets cannot be opened.`,
  ];
  if (env.SECRETS_KEY) {
    const same = Buffer.from(env.SECRETS_KEY, 'base64').equals(
      Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64'),
    );
    lines.push(
      same
        ? 'The SECRETS_KEY set here is that key.'
        : `WARNING: the SECRETS_KEY set here is NOT the key in ${file}.`,
    );
  }
  return lines.join('\n');
}

function report(source: Source, target: string, v: Verified): string {
  const width = Math.max(...v.rows.map((r) => r.table.length));
  const total = v.rows.reduce((n, r) => n + r.rows, 0);
  return [
    `Copied ${source.file} into ${target} in one transaction, committed after it verified.`,
    ...v.rows
      .toSorted((a, b) => a.table.localeCompare(b.table))
      .map((r) => `  ${r.table.padEnd(width)} ${String(r.rows).padStart(9)}`),
    `Verified: ${v.rows.length} tables, ${total} rows, every count equal to SQLite's; ${v.blobs} blobs and ${v.snapshots} snapshots hash to their ids; the release chains of ${v.releaseChains} projects (${v.releases} records); the audit chain (${v.auditEvents} events).`,
  ].join('\n');
}

async function copy(source: Source, pgx: Postgres): Promise<Verified> {
  const tables = tablesInForeignKeyOrder();
  return await pgx.atomically(async () => {
    await pgx.db().execute(sql`SELECT pg_advisory_xact_lock(${COPY_LOCK.toString()})`);
    await lockTarget(pgx.db(), tables);
    const full = await nonEmptyTables(pgx.db(), tables);
    if (full.length > 0)
      throw new CopyStopped(
        EXIT.targetNotEmpty,
        `The target already holds data (${full.join(', ')}): copy only into an empty database. Nothing was written.`,
      );
    for (const t of tables) await copyTable(source, pgx.db(), t);
    await advanceIdentities(pgx.db());
    const { verified, problems } = await verifyCopy(pgx.db(), source, tables);
    if (problems.length > 0)
      throw new CopyStopped(
        EXIT.notVerified,
        `The copy did not verify, so nothing was written:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
      );
    return verified;
  });
}

async function main(): Promise<number> {
  let from: string | undefined;
  let url: string;
  try {
    ({ from } = parseArgs({ options: { from: { type: 'string' } } }).values);
    if (!from) throw new Error('--from DATA_DIR is required');
    url = loadDatabaseUrl(process.env);
  } catch (err) {
    console.error(err instanceof ConfigError ? err.message : `${(err as Error).message}\n${USAGE}`);
    return EXIT.usage;
  }
  const target = maskedUrl(url) ?? 'DATABASE_URL';
  let source: Source | null = null;
  let pgx: Postgres | null = null;
  try {
    source = openSource(path.resolve(from));
    const unstorable = unstorableText(source, tablesInForeignKeyOrder());
    if (unstorable.length > 0)
      throw new CopyStopped(
        EXIT.unstorableText,
        `The source holds text PostgreSQL cannot store, so nothing was written. Change or remove these rows (a stopped server's database, with the sqlite3 shell), then copy again:\n${unstorable.map((p) => `  - ${p}`).join('\n')}`,
      );
    pgx = await openPostgres(url, {
      max: 2,
      log: (m) => console.error(m),
      name: 'stagecoach-migrate',
    });
    console.log(report(source, target, await copy(source, pgx)));
    console.log(secretsKeyNote(path.resolve(from), process.env));
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CopyStopped) {
      console.error(err.message);
      return err.exitCode;
    }
    console.error(`The copy into ${target} failed, nothing was written: ${(err as Error).message}`);
    return EXIT.failed;
  } finally {
    source?.close();
    await pgx?.close();
  }
}

process.exitCode = await main();

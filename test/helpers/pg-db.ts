import fs from 'node:fs';
import path from 'node:path';
import { openPostgres, pgMigrationsFolder, type Postgres } from '../../server/store/pg/db.ts';
import { startPostgres, type ThrowawayPostgres } from './postgres.ts';

/** A throwaway PostgreSQL, migrated, with the stores' connection to it (closed by cleanup). */
export async function migratedPostgres(
  cleanup: (() => unknown)[],
): Promise<{ server: ThrowawayPostgres; pgx: Postgres }> {
  const server = await startPostgres(cleanup);
  const pgx = await openPostgres(server.url, { max: 4, log: () => {} });
  cleanup.push(() => pgx.close());
  return { server, pgx };
}

/** How many migrations server/store/pg-migrations holds (its drizzle journal's entries). */
export function pgMigrationCount(): number {
  const journal = path.join(pgMigrationsFolder, 'meta', '_journal.json');
  return (JSON.parse(fs.readFileSync(journal, 'utf8')) as { entries: unknown[] }).entries.length;
}

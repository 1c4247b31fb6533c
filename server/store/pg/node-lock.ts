import pg from 'pg';
import { ConfigError } from '../../config.ts';
import { SERVER_APPLICATION_NAME } from './db.ts';

/** Between two tries for a NODE_ID another process holds. */
const RETRY_MS = 200;

/**
 * One running process per NODE_ID (PG-59): a session advisory lock keyed by the NODE_ID, on a
 * connection of its own held for the process's life. Two processes given the same NODE_ID would
 * each take the other's drafts at every open (the lease names the node, not the process), so the
 * second is refused at start with a ConfigError naming the key. A process killed a moment ago
 * frees its lock as soon as PostgreSQL sees its connection close (milliseconds): the starting
 * one tries again for `waitMs` before it gives up. A lost connection (PostgreSQL restarted) is
 * logged; the process goes on, and the lock is not taken again until it restarts.
 */
export async function holdNodeId(
  url: string,
  nodeId: string,
  waitMs: number,
  log: (msg: string) => void,
): Promise<{ release(): Promise<void> }> {
  const client = new pg.Client({
    connectionString: url,
    application_name: SERVER_APPLICATION_NAME,
  });
  client.on('error', (err) =>
    log(`postgres: the connection holding NODE_ID ${nodeId} failed: ${err.message}`),
  );
  await client.connect();
  const deadline = Date.now() + waitMs;
  try {
    for (;;) {
      const r = await client.query<{ held: boolean }>(
        'SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS held',
        [`stagecoach node ${nodeId}`],
      );
      if (r.rows[0]!.held) break;
      if (Date.now() >= deadline)
        throw new ConfigError([
          `NODE_ID=${nodeId}: another process running on this database has it (waited ${waitMs} ms); give each process its own NODE_ID, or leave it unset`,
        ]);
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
  } catch (err) {
    await client.end().catch(() => {});
    throw err;
  }
  return { release: () => client.end().catch(() => {}) };
}

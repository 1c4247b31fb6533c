import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { sectionMap, itemText } from '#schema/content/ydoc.ts';
import { LOCK } from '#server/store/pg/locks.ts';
import { LOCK_TIMEOUT_MS } from '#server/store/pg/db.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { connect, instructionsOf, synced, until, type Client } from '../helpers/clients.ts';
import { adminOf, newProject, newUser } from '../helpers/fixture.ts';
import { postgresAndRedisPerFile } from '../helpers/pg-redis-per-file.ts';
import { onPostgres, testServer } from '../helpers/server.ts';

/**
 * The draft owner's own pool (PG-184): leases and appends do not share connections with domain
 * transactions, which wait at most `lock_timeout` for a lock.
 */
const services = postgresAndRedisPerFile();
const cleanup = cleanupAfterEach();

/** The lease TTL (server/cluster/leases.ts): the convoy must outlast it. */
const TTL_MS = 5000;

describe('PG: leases and appends beside a ledger-lock convoy', () => {
  it('PG-184 the ledger lock held from a side connection and every domain connection waiting behind it for twice the lease TTL: the editor keeps its socket, each edit is stored and reaches the other editor, the waiting requests answer 503 storage_unavailable, and after the lock is freed a change goes through', async () => {
    const server = await testServer(cleanup, onPostgres(services.postgres.url, services.redis.url));
    const admin = await adminOf(server.url);
    const p = await newProject(admin, { sample: true });
    const dev = p.environments[0]!;
    const bob = await newUser(admin, 'bob@example.com', 'Bob');
    const editor = (): Client => {
      const c = connect(server.url, dev.draftId!, { token: admin.token });
      cleanup.push(() => c.destroy());
      return c;
    };
    const [a, b] = [editor(), editor()];
    await Promise.all([synced(a), synced(b)]);
    const closes: number[] = [];
    for (const c of [a, b]) c.provider.on('connection-close', (e) => closes.push(e?.code ?? 0));
    const agentId = [...sectionMap(a.doc, 'agents').keys()][0]!;

    const side = new pg.Client({ connectionString: services.postgres.url });
    await side.connect();
    cleanup.push(() => side.end());
    await side.query('BEGIN');
    await side.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [LOCK.ledger]);

    // 20 member changes in flight at all times (twice the domain pool), each waiting on the
    // ledger lock for a connection or for the lock itself.
    const end = performance.now() + 2 * TTL_MS + 1000;
    const answers: number[] = [];
    const change = async () => {
      while (performance.now() < end) {
        const r = await admin.call('PUT', `/api/projects/${p.id}/members/${bob.id}`, {
          roles: { [dev.id]: ['viewer'] },
        });
        answers.push(r.status);
      }
    };
    const convoy = Promise.all(Array.from({ length: 20 }, change));

    let rounds = 0;
    while (performance.now() < end) {
      const mark = `edit ${++rounds}. `;
      itemText(sectionMap(a.doc, 'agents').get(agentId), 'instructions')!.insert(0, mark);
      const t0 = performance.now();
      await until(b.doc, (d) => instructionsOf(d, agentId)!.startsWith(mark));
      // Generous: stored and broadcast while every domain connection is taken.
      expect(performance.now() - t0).toBeLessThan(3000);
    }
    await convoy;
    expect(closes).toEqual([]);
    expect(rounds).toBeGreaterThan(3);
    expect(answers.length).toBeGreaterThan(0);
    expect(new Set(answers)).toEqual(new Set([503]));
    expect(LOCK_TIMEOUT_MS).toBeLessThan(2 * TTL_MS);

    await side.query('ROLLBACK');
    const after = await admin.call('PUT', `/api/projects/${p.id}/members/${bob.id}`, {
      roles: { [dev.id]: ['editor'] },
    });
    expect(after.status).toBe(200);
    expect(closes).toEqual([]);
  }, 60_000);
});

import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type * as Y from 'yjs';
import type { ReleaseChainPage } from '#schema/api/release.ts';
import { itemText, sectionMap } from '#schema/content/ydoc.ts';
import { verifyChain } from '#schema/release-chain.ts';
import { sha256 } from '#server/lib/hash.ts';
import { LOCK } from '#server/store/pg/locks.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { connect, instructionsOf, synced, until, type Client } from '../helpers/clients.ts';
import {
  printOnFailure,
  startCluster,
  type Cluster,
  type ClusterNode,
} from '../helpers/cluster.ts';
import { newProject, newUser, overTheWire, type Env } from '../helpers/fixture.ts';
import { chainsOf, pgClusterEnv } from '../helpers/pg-cluster.ts';
import { pgMigrationCount } from '../helpers/pg-db.ts';
import { startPostgres, type ThrowawayPostgres } from '../helpers/postgres.ts';
import { startRedis, type ThrowawayRedis } from '../helpers/redis.ts';
import { setupAdmin, type Admin } from '../helpers/server.ts';

/**
 * Guarantees 4, 8 and the Redis half of 9 of issue 17 (PG-190 … PG-192, PG-198), through three
 * real server processes on one throwaway PostgreSQL 15 and Redis: compare-and-swap promotions
 * and hash chains, migrations at a simultaneous start, and work going on while Redis is down.
 */
const shared: (() => unknown)[] = [];
let db: ThrowawayPostgres;
let redis: ThrowawayRedis;
let cluster: Cluster;
let admin: Admin;
/** PG-192: the most nodes seen waiting together for the migration lock while the test held it. */
let waitingAtStart = 0;

const waitingForLock = async (holder: pg.Client) =>
  Number(
    (
      await holder.query<{ n: string }>(
        "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
      )
    ).rows[0]!.n,
  );

beforeAll(async () => {
  db = await startPostgres(shared);
  redis = await startRedis(shared);
  // PG-192: the three nodes start at once on this empty database while the test holds the
  // migration lock, so each must reach it and wait; released, they migrate one after another.
  const holder = new pg.Client({ connectionString: db.url });
  await holder.connect();
  const lock = 'SELECT pg_advisory_lock(hashtextextended($1, 0))';
  await holder.query(lock, [LOCK.migrations]);
  const starting = startCluster(shared, { nodes: 3, env: pgClusterEnv(db.url, redis.url) });
  let settled = false;
  const started = starting.finally(() => (settled = true));
  started.catch(() => {}); // awaited below
  const deadline = performance.now() + 60_000;
  // Nothing announces a waiter: poll pg_locks with a deadline (or until the nodes came up anyway).
  while (!settled && waitingAtStart < 3 && performance.now() < deadline) {
    waitingAtStart = Math.max(waitingAtStart, await waitingForLock(holder));
    if (waitingAtStart < 3) await new Promise((r) => setTimeout(r, 20));
  }
  await holder.end(); // ends its session: the lock goes with it
  cluster = await started;
  admin = await setupAdmin(cluster.nodes[0]!.url);
}, 120_000);
afterAll(async () => {
  for (const f of shared.splice(0).reverse()) await f();
});
const cleanup = cleanupAfterEach();
beforeEach(() => printOnFailure(cluster));

const api = (node: ClusterNode, token = admin.token) => overTheWire(node.url, token);

function client(node: ClusterNode, draftId: string): Client {
  const c = connect(node.url, draftId, { token: admin.token });
  cleanup.push(() => c.destroy());
  return c;
}

function type(doc: Y.Doc, agentId: string, text: string): void {
  itemText(sectionMap(doc, 'agents').get(agentId), 'instructions')!.insert(0, text);
}

/**
 * A writer and an observer of a sample project's draft on `node` (which then owns it), typing into
 * its first agent: an edit the observer sees is stored (nothing unstored is broadcast).
 */
async function editorsOn(node: ClusterNode, draftId: string) {
  const writer = client(node, draftId);
  const observer = client(node, draftId);
  await Promise.all([synced(writer), synced(observer)]);
  const agentId = [...sectionMap(writer.doc, 'agents').keys()][0]!;
  return {
    async type(text: string) {
      type(writer.doc, agentId, text);
      await until(observer.doc, (d) => instructionsOf(d, agentId)?.startsWith(text) === true);
    },
    converged: () =>
      until(
        writer.doc,
        (d) => instructionsOf(d, agentId) === instructionsOf(observer.doc, agentId),
      ),
    agentId,
  };
}

interface SyncAnswer {
  status: number;
  body: { snapshotId?: string; unchanged?: boolean; error?: { id: string } };
}

/** The same Sync sent to each of `via` at once; expects exactly one to move and the others `target_moved`. */
async function race(
  via: ClusterNode[],
  envId: string,
  expectedTargetSnapshotId: string | null,
): Promise<{ snapshotId: string; node: string }> {
  const answers = await Promise.all(
    via.map((n) =>
      api(n).call<SyncAnswer['body']>('POST', `/api/environments/${envId}/sync`, {
        expectedTargetSnapshotId,
      }),
    ),
  );
  const won = answers.flatMap((a, i) => (a.status === 200 ? [{ a, node: via[i]!.id }] : []));
  expect(answers.map((a) => a.status).sort()).toEqual([200, ...via.slice(1).map(() => 409)]);
  expect(answers.filter((a) => a.status === 409).map((a) => a.body.error?.id)).toEqual(
    via.slice(1).map(() => 'target_moved'),
  );
  expect(won[0]!.a.body.unchanged).toBe(false);
  return { snapshotId: won[0]!.a.body.snapshotId!, node: won[0]!.node };
}

/** The project's release chain paged from the API (`GET /api/projects/:id/releases`). */
async function releaseChain(node: ClusterNode, projectId: string) {
  const records: ReleaseChainPage['records'] = [];
  for (let after = 0; ;) {
    const page = await api(node).ok<ReleaseChainPage>(
      'GET',
      `/api/projects/${projectId}/releases?after=${after}&limit=500`,
    );
    records.push(...page.records);
    if (page.next === null) return records;
    after = page.next;
  }
}

describe('PG-190 … PG-192, PG-198: guarantees 4, 8 and 9 through three processes', () => {
  it('PG-192: three processes started at once on an empty database wait together for the migration lock, migrate it once, and all come up', async () => {
    expect(waitingAtStart).toBe(3);
    for (const n of cluster.nodes) expect((await fetch(`${n.url}/api/health`)).status).toBe(200);
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    cleanup.push(() => pool.end());
    const applied = await pool.query<{ n: number; hashes: number }>(
      'SELECT count(*)::int AS n, count(DISTINCT hash)::int AS hashes FROM drizzle.__drizzle_migrations',
    );
    expect(applied.rows[0]).toEqual({ n: pgMigrationCount(), hashes: pgMigrationCount() });
  });

  it('PG-190: the same compare-and-swap Sync sent twice at once, 50 rounds: exactly one wins each round, the other gets target_moved; every release chain and the audit chain verify', async () => {
    const [n1, n2, n3] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode];
    const project = await newProject(api(n1), { sample: true });
    const [dev, test, staging] = project.environments as Env[] as [Env, Env, Env];
    const editors = await editorsOn(n1, dev.draftId!);
    let testAt = test.snapshotId;
    let stagingAt = staging.snapshotId;
    const wins: Record<string, number> = {};
    const t0 = performance.now();
    for (let round = 0; round < 50; round++) {
      await editors.type(`r${round} `);
      // Out of DEV: the owner (n1) and a process that reads the draft's log (PG-150) race.
      const frozen = await race([n1, n2], dev.id, testAt);
      testAt = frozen.snapshotId;
      wins[`dev:${frozen.node}`] = (wins[`dev:${frozen.node}`] ?? 0) + 1;
      // Out of TEST nothing is frozen: two processes race on PostgreSQL's compare-and-swap alone.
      const moved = await race([n2, n3], test.id, stagingAt);
      stagingAt = moved.snapshotId;
      wins[moved.node] = (wins[moved.node] ?? 0) + 1;
    }
    console.log(
      `PG-190: 50 rounds of two racing Syncs each in ${Math.round(performance.now() - t0)} ms; winners (dev: DEV→TEST, else TEST→STAGING) ${JSON.stringify(wins)}`,
    );
    // Every process reads the pointers the winners moved.
    for (const n of cluster.nodes) {
      const seen = await api(n).ok<{ environments: Env[] }>('GET', `/api/projects/${project.id}`);
      expect(seen.environments.slice(1, 3).map((e) => e.snapshotId)).toEqual([testAt, stagingAt]);
    }

    const records = await releaseChain(n2, project.id);
    expect(records).toHaveLength(100);
    expect(verifyChain(records, sha256)).toMatchObject({ ok: true, count: 100 });
    const chains = await chainsOf(db.url);
    expect(chains.problems).toEqual([]);
    expect(chains.releases).toBeGreaterThanOrEqual(100);
  }, 120_000);

  it('PG-191: member and gate changes made at once through three processes keep the audit chain whole, one event per change', async () => {
    const nodes = cluster.nodes;
    const project = await newProject(api(nodes[1]!));
    const envs = project.environments as Env[];
    const people = await Promise.all(
      nodes.map((n, i) => newUser(api(n), `racer${i}@example.com`, `Racer ${i}`)),
    );
    const before = await chainsOf(db.url);
    const ROUNDS = 10;
    await Promise.all(
      nodes.map(async (n, i) => {
        for (let k = 0; k < ROUNDS; k++) {
          await api(n).ok('PUT', `/api/projects/${project.id}/members/${people[i]!.id}`, {
            roles: { [envs[k % envs.length]!.id]: [k % 2 ? 'viewer' : 'editor'] },
          });
          await api(n).ok('PUT', `/api/environments/${envs[i + 1]!.id}/gate`, {
            requiredApprovals: k % 2 ? 0 : 1,
          });
        }
      }),
    );
    const after = await chainsOf(db.url);
    expect(after.problems).toEqual([]);
    expect(after.auditEvents - before.auditEvents).toBe(nodes.length * ROUNDS * 2);
  }, 60_000);

  it('PG-198: with Redis stopped, editing, saving (a Sync freezes the draft) and promotions go on through every process', async () => {
    const nodes = cluster.nodes;
    const projects = await Promise.all(
      nodes.map((n) => newProject(api(n), { name: n.id, sample: true })),
    );
    await redis.kill();
    let restarted = false;
    cleanup.push(() => (restarted ? undefined : redis.restart()));
    await Promise.all(
      nodes.map(async (n, i) => {
        const [dev, test, staging] = projects[i]!.environments as Env[] as [Env, Env, Env];
        const editors = await editorsOn(n, dev.draftId!);
        await editors.type('typed without Redis. ');
        await editors.converged();
        const frozen = await api(n).ok<{ snapshotId: string; unchanged: boolean }>(
          'POST',
          `/api/environments/${dev.id}/sync`,
          { expectedTargetSnapshotId: test.snapshotId },
        );
        expect(frozen.unchanged).toBe(false);
        // The next promotion through another process.
        const other = nodes[(i + 1) % nodes.length]!;
        const promoted = await api(other).ok<{ snapshotId: string }>(
          'POST',
          `/api/environments/${test.id}/sync`,
          { expectedTargetSnapshotId: staging.snapshotId },
        );
        expect(promoted.snapshotId).toBe(frozen.snapshotId);
        const content = await api(nodes[(i + 2) % nodes.length]!).ok<{
          agents: Record<string, { instructions: string }>;
        }>('GET', `/api/environments/${test.id}/content`);
        expect(content.agents[editors.agentId]?.instructions).toMatch(/^typed without Redis\. /);
      }),
    );
    await redis.restart();
    restarted = true;
  }, 60_000);
});

import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, afterAll, beforeEach, describe, expect, it } from 'vitest';
import { WebsocketProvider } from 'y-websocket';
import type * as Y from 'yjs';
import { addItem, itemText, sectionMap } from '#schema/content/ydoc.ts';
import type { WorkspaceContent } from '#schema/content/ydoc.ts';
import { CLOSE } from '#schema/errors.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { connect, instructionsOf, synced, until, wsUrl, type Client } from '../helpers/clients.ts';
import { printOnFailure, startCluster, type Cluster } from '../helpers/cluster.ts';
import { newProject, overTheWire, type Env } from '../helpers/fixture.ts';
import { pgClusterEnv } from '../helpers/pg-cluster.ts';
import { startPostgres, type ThrowawayPostgres } from '../helpers/postgres.ts';
import { startRedis } from '../helpers/redis.ts';
import { setupAdmin, type Admin } from '../helpers/server.ts';

/**
 * The server on PostgreSQL (PG-100 … PG-104): real processes on DATABASE_URL, a throwaway
 * PostgreSQL 15 and Redis, stock y-websocket clients.
 */
const shared: (() => unknown)[] = [];
let pg: ThrowawayPostgres;
let cluster: Cluster;
beforeAll(async () => {
  pg = await startPostgres(shared);
  const redis = await startRedis(shared);
  cluster = await startCluster(shared, {
    nodes: 2,
    env: pgClusterEnv(pg.url, redis.url),
  });
}, 120_000);
afterAll(async () => {
  for (const f of shared.splice(0).reverse()) await f();
});
const cleanup = cleanupAfterEach();
beforeEach(() => printOnFailure(cluster));

let admin: Admin;
async function draftOn(url: string, sample = false) {
  admin ??= await setupAdmin(url);
  const project = await newProject(overTheWire(url, admin.token), { sample });
  return { project, draftId: project.environments[0]!.draftId! };
}

function client(url: string, draftId: string): Client {
  const c = connect(url, draftId, { token: admin.token });
  cleanup.push(() => c.destroy());
  return c;
}

function type(doc: Y.Doc, agentId: string, text: string): void {
  itemText(sectionMap(doc, 'agents').get(agentId), 'instructions')!.insert(0, text);
}

/** The close code a bare socket for `draftId` on `url` gets, or 0 when it is served (the room's first frame came). */
function closeCode(url: string, draftId: string): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${wsUrl(url)}/${draftId}?token=${admin.token}`);
    ws.addEventListener('close', (e) => resolve(e.code));
    ws.addEventListener('message', () => {
      resolve(0);
      ws.close();
    });
  });
}

const serverState = (c: Client) =>
  [...c.provider.awareness.getStates().values()].find((s) => 'server' in s)?.server as
    { storage: string } | undefined;

function presence(c: Client, wanted: (s: { storage: string } | undefined) => boolean) {
  if (wanted(serverState(c))) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const on = () => {
      if (!wanted(serverState(c))) return;
      c.provider.awareness.off('change', on);
      resolve();
    };
    c.provider.awareness.on('change', on);
  });
}

describe('PG-100 … PG-104: the server on PostgreSQL', () => {
  it('PG-100, PG-101: sign-up, projects, live editing, Sync and Publish run on PostgreSQL alone, and survive a restart', async () => {
    const [n1] = cluster.nodes;
    const { project, draftId } = await draftOn(n1!.url, true);
    // No SQLite file: everything is in PostgreSQL.
    expect(fs.existsSync(path.join(n1!.dataDir, 'stagecoach.sqlite'))).toBe(false);

    const a = client(n1!.url, draftId);
    const b = client(n1!.url, draftId);
    await Promise.all([synced(a), synced(b)]);
    const agentId = [...sectionMap(a.doc, 'agents').keys()][0]!;
    const was = instructionsOf(a.doc, agentId)!;
    type(a.doc, agentId, 'from a. ');
    await until(b.doc, (d) => instructionsOf(d, agentId) === `from a. ${was}`);
    type(b.doc, agentId, 'from b. ');
    await until(a.doc, (d) => instructionsOf(d, agentId) === `from b. from a. ${was}`);

    const api = overTheWire(n1!.url, admin.token);
    const envs = project.environments as Env[];
    for (const e of envs.slice(0, envs.length - 1))
      await api.ok('POST', `/api/environments/${e.id}/sync`, { confirmMissingSecrets: true });
    const prod = envs[envs.length - 1]!;
    await api.ok('POST', `/api/environments/${prod.id}/publish`, { confirmMissingSecrets: true });

    const before = await api.ok('GET', `/api/projects/${project.id}`);

    await n1!.restart();
    const again = overTheWire(n1!.url, admin.token);
    const content = await again.ok<WorkspaceContent>(
      'GET',
      `/api/environments/${envs[0]!.id}/content`,
    );
    expect(Object.keys(content.agents)).toContain(agentId);
    expect(await again.ok('GET', `/api/projects/${project.id}`)).toEqual(before);
    const later = client(n1!.url, draftId);
    await synced(later);
    expect(instructionsOf(later.doc, agentId)).toBe(`from b. from a. ${was}`);
  }, 120_000);

  it('PG-102, PG-103: a second process serves a draft the first owns only by relaying to it; after the first is killed -9 it takes it over with everything acknowledged', async () => {
    const [n1, n2] = cluster.nodes;
    const { draftId } = await draftOn(n1!.url);
    const a = client(n1!.url, draftId);
    const b = client(n1!.url, draftId);
    await Promise.all([synced(a), synced(b)]);
    const agentId = addItem(a.doc, 'agents', { name: 'Kept bot' });
    type(a.doc, agentId, 'acknowledged. ');
    // Broadcast to b means stored (nothing is sent that is not in the log).
    await until(b.doc, (d) => instructionsOf(d, agentId) === 'acknowledged. ');

    // Served, relayed to n1 (PG-140); n1 keeps the lease.
    expect(await closeCode(n2!.url, draftId)).toBe(0);

    await n1!.kill();
    // The lease lapses within its TTL; until then n2 keeps refusing (poll with a deadline).
    const deadline = performance.now() + 30_000;
    for (;;) {
      expect(performance.now()).toBeLessThan(deadline);
      const code = await closeCode(n2!.url, draftId);
      if (code === 0) break;
      expect(code).toBe(CLOSE.owner_moved);
    }
    const taken = client(n2!.url, draftId);
    await synced(taken);
    expect(instructionsOf(taken.doc, agentId)).toBe('acknowledged. ');
    await n1!.restart();
  }, 120_000);

  it('PG-103: an owner paused past its lease loses the draft on resume: its peers get owner_moved, and what they typed meanwhile reaches the new owner when they reconnect there', async () => {
    const [n1, n2] = cluster.nodes;
    const { draftId } = await draftOn(n1!.url);
    const a = client(n1!.url, draftId);
    await synced(a);
    const agentId = addItem(a.doc, 'agents', { name: 'Moved bot' });
    const observer = client(n1!.url, draftId);
    await until(observer.doc, (d) => instructionsOf(d, agentId) !== null);
    observer.destroy();

    await n1!.pause();
    let resumed = false;
    cleanup.push(() => (resumed ? undefined : n1!.resume()));
    // Typed into the stopped owner: never stored there.
    type(a.doc, agentId, 'typed while the owner slept. ');
    const deadline = performance.now() + 30_000;
    while ((await closeCode(n2!.url, draftId)) !== 0)
      expect(performance.now()).toBeLessThan(deadline);
    const moved = new Promise<number>((resolve) =>
      a.provider.on('connection-close', (e) => e && resolve(e.code)),
    );
    await n1!.resume();
    resumed = true;
    expect(await moved).toBe(CLOSE.owner_moved);
    a.provider.disconnect();

    // The client still holds its edit: reconnected to the new owner, its handshake sends it.
    const there = new WebsocketProvider(wsUrl(n2!.url), draftId, a.doc, {
      params: { token: admin.token },
      disableBc: true,
      WebSocketPolyfill: WebSocket,
    });
    cleanup.push(() => there.destroy());
    const reader = client(n2!.url, draftId);
    await until(reader.doc, (d) => instructionsOf(d, agentId) === 'typed while the owner slept. ');
  }, 120_000);

  it('PG-104: PostgreSQL paused mid-edit: the editor is told it cannot save, nothing unstored is broadcast, and after resume it flushes and converges', async () => {
    const [, n2] = cluster.nodes;
    const { draftId } = await draftOn(n2!.url);
    const writer = client(n2!.url, draftId);
    const reader = client(n2!.url, draftId);
    await Promise.all([synced(writer), synced(reader)]);
    const agentId = addItem(writer.doc, 'agents', { name: 'Paused bot' });
    await until(reader.doc, (d) => instructionsOf(d, agentId) !== null);

    pg.pause();
    let resumed = false;
    cleanup.push(() => (resumed ? undefined : pg.resume()));
    type(writer.doc, agentId, 'typed while paused. ');
    await presence(writer, (s) => s?.storage === 'failing');
    expect(instructionsOf(reader.doc, agentId)).toBe('');
    pg.resume();
    resumed = true;
    await until(reader.doc, (d) => instructionsOf(d, agentId) === 'typed while paused. ');
    await presence(reader, (s) => s === undefined);
  }, 120_000);
  it('PG-105: with PostgreSQL stopped a write answers 503 storage_unavailable', async () => {
    const [n1] = cluster.nodes;
    await draftOn(n1!.url);
    await pg.stop();
    cleanup.push(() => pg.restart());
    const down = await overTheWire(n1!.url, admin.token).call('POST', '/api/projects', {
      name: 'While the database is down',
    });
    expect(down.status).toBe(503);
    expect((down.body as { error: { id: string } }).error.id).toBe('storage_unavailable');
  }, 120_000);
});

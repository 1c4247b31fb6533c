import { createHash, randomBytes } from 'node:crypto';
import * as encoding from 'lib0/encoding';
import { beforeAll, afterAll, beforeEach, describe, expect, it } from 'vitest';
import pg from 'pg';
import * as Y from 'yjs';
import { addItem, itemText, sectionMap } from '#schema/content/ydoc.ts';
import type { WorkspaceContent } from '#schema/content/ydoc.ts';
import { CLOSE } from '#schema/errors.ts';
import { createTickets } from '#server/cluster/tickets.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { connect, instructionsOf, synced, until, type Client } from '../helpers/clients.ts';
import { printOnFailure, startCluster, type Cluster } from '../helpers/cluster.ts';
import { newProject, overTheWire, type Env } from '../helpers/fixture.ts';
import { pgClusterEnv } from '../helpers/pg-cluster.ts';
import { startPostgres, type ThrowawayPostgres } from '../helpers/postgres.ts';
import { startRedis } from '../helpers/redis.ts';
import { setupAdmin, type Admin } from '../helpers/server.ts';

/**
 * Sockets and HTTP changes that reach a process that does not own their draft (PG-140 … PG-152):
 * three real processes on a throwaway PostgreSQL 15 and Redis, stock y-websocket clients connected
 * to each process directly (as a balancer mid-rebalance, or one that does not hash, would send them).
 */
const shared: (() => unknown)[] = [];
let CLUSTER_SECRET: string;
let postgres: ThrowawayPostgres;
let cluster: Cluster;
let sql: pg.Pool;
beforeAll(async () => {
  postgres = await startPostgres(shared);
  const redis = await startRedis(shared);
  const env = pgClusterEnv(postgres.url, redis.url);
  CLUSTER_SECRET = env.CLUSTER_SECRET!;
  cluster = await startCluster(shared, { nodes: 3, env });
  sql = new pg.Pool({ connectionString: postgres.url, max: 1 });
  shared.push(() => sql.end());
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

const node = (i: number) => cluster.nodes[i]!;

async function ownerOf(draftId: string): Promise<string | undefined> {
  const { rows } = await sql.query<{ owner: string }>(
    `select owner_node as owner from draft_leases
      where draft_id = $1 and expires_at > extract(epoch from clock_timestamp()) * 1000`,
    [draftId],
  );
  return rows[0]?.owner;
}

/** The labels of other clients' presence states as `c` sees them (the server sets `user.name`). */
const othersSeen = (c: Client) =>
  [...c.provider.awareness.getStates().entries()]
    .filter(([id, s]) => id !== c.doc.clientID && 'user' in s)
    .map(([, s]) => (s as { user: { color?: string } }).user.color ?? '');

function awarenessUntil(c: Client, wanted: (names: string[]) => boolean): Promise<void> {
  if (wanted(othersSeen(c))) return Promise.resolve();
  return new Promise((resolve) => {
    const on = () => {
      if (!wanted(othersSeen(c))) return;
      c.provider.awareness.off('change', on);
      resolve();
    };
    c.provider.awareness.on('change', on);
  });
}

/** The close code a bare socket to `path` on `url` gets (0: it was served: a frame came first). */
function closeCode(
  url: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<number> {
  return new Promise((resolve) => {
    // Node's WebSocket cannot send headers: the ws package's can.
    void import('ws').then(({ WebSocket: Ws }) => {
      const ws = new Ws(`${url.replace(/^http/, 'ws')}${path}`, { headers });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? -1));
      ws.on('error', () => resolve(-1));
      ws.on('close', (code) => resolve(code));
      ws.on('message', () => {
        resolve(0);
        ws.close();
      });
    });
  });
}

describe('PG-140 … PG-152: a draft reached through any process', () => {
  it('PG-140: clients of one draft on three processes converge, a third gets the full state, presence crosses processes and leaves with the process that served it', async () => {
    const { draftId } = await draftOn(node(0).url);
    const a = client(node(0).url, draftId);
    await synced(a);
    expect(await ownerOf(draftId)).toBe('n1');
    const b = client(node(1).url, draftId);
    await synced(b);
    // n2 relays; n1 still owns the draft.
    expect(await ownerOf(draftId)).toBe('n1');

    const agentA = addItem(a.doc, 'agents', { name: 'From a' });
    const agentB = addItem(b.doc, 'agents', { name: 'From b' });
    itemText(sectionMap(a.doc, 'agents').get(agentA), 'instructions')!.insert(0, 'typed on n1');
    itemText(sectionMap(b.doc, 'agents').get(agentB), 'instructions')!.insert(0, 'typed on n2');
    await until(a.doc, (d) => instructionsOf(d, agentB) === 'typed on n2');
    await until(b.doc, (d) => instructionsOf(d, agentA) === 'typed on n1');

    const c = client(node(2).url, draftId);
    await synced(c);
    expect(instructionsOf(c.doc, agentA)).toBe('typed on n1');
    expect(instructionsOf(c.doc, agentB)).toBe('typed on n2');
    expect(Y.encodeStateAsUpdate(c.doc)).toEqual(Y.encodeStateAsUpdate(a.doc));

    // Presence crosses processes: b (through n2) and c (through n3) appear to a (on n1).
    b.provider.awareness.setLocalStateField('user', { color: 'B on n2' });
    c.provider.awareness.setLocalStateField('user', { color: 'C on n3' });
    await awarenessUntil(a, (names) => names.includes('B on n2') && names.includes('C on n3'));
    await awarenessUntil(c, (names) => names.includes('B on n2'));

    // The relaying process dies: its client's presence leaves everyone else's view.
    b.provider.disconnect();
    await node(1).kill();
    cleanup.push(() => node(1).restart());
    await awarenessUntil(a, (names) => !names.includes('B on n2') && names.includes('C on n3'));
    await awarenessUntil(c, (names) => !names.includes('B on n2'));
  }, 120_000);

  it('PG-141: the owner accepts a relayed socket only on a ticket signed with CLUSTER_SECRET for that draft and unexpired; anything else is refused before the upgrade', async () => {
    const { draftId } = await draftOn(node(0).url);
    const { draftId: other } = await draftOn(node(0).url);
    const owner = client(node(0).url, draftId);
    await synced(owner);
    const path = `/internal/collab/${draftId}`;
    const claims = { draftId, userId: 'u', userName: 'Mallory', readOnly: false };
    const forged = createTickets(randomBytes(36).toString('base64')).sign('relay', claims);
    const wrongDraft = createTickets(CLUSTER_SECRET).sign('relay', { ...claims, draftId: other });
    const wrongPurpose = createTickets(CLUSTER_SECRET).sign('edit', claims);
    const expired = createTickets(CLUSTER_SECRET, () => Date.now() - 60_000).sign('relay', claims);
    for (const ticket of [undefined, 'junk', forged, wrongDraft, wrongPurpose, expired])
      expect(
        await closeCode(node(0).url, path, ticket ? { 'x-stagecoach-relay': ticket } : {}),
      ).toBe(401);
    // The same ticket, signed with the cluster's secret, is served.
    const good = createTickets(CLUSTER_SECRET).sign('relay', claims);
    expect(await closeCode(node(0).url, path, { 'x-stagecoach-relay': good })).toBe(0);
  }, 60_000);

  it("PG-142: the owner's close reaches a relayed client with the owner's code; when the owner is killed its relayed clients reconnect and are served by the next owner with everything acknowledged", async () => {
    const { draftId } = await draftOn(node(0).url);
    const owner = client(node(0).url, draftId);
    await synced(owner);
    const relayed = client(node(2).url, draftId);
    await synced(relayed);
    const agentId = addItem(relayed.doc, 'agents', { name: 'Acknowledged' });
    itemText(sectionMap(relayed.doc, 'agents').get(agentId), 'instructions')!.insert(0, 'kept');
    await until(owner.doc, (d) => instructionsOf(d, agentId) === 'kept');

    const closed = new Promise<number>((resolve) =>
      relayed.provider.on('connection-close', (e) => e && resolve(e.code)),
    );
    owner.provider.disconnect();
    const killedAt = performance.now();
    await node(0).kill();
    cleanup.push(() => node(0).restart());
    expect(await closed).toBe(CLOSE.owner_moved);
    // Typed at once, offline: y-websocket reconnects by itself, n3 takes the draft once n1's
    // lease lapsed, and the edit is stored there (a reader on another process sees it).
    itemText(sectionMap(relayed.doc, 'agents').get(agentId), 'instructions')!.insert(4, ', then');
    const reader = client(node(1).url, draftId);
    await until(reader.doc, (d) => instructionsOf(d, agentId) === 'kept, then');
    console.log(
      `PG-142: an editor whose draft's owner was killed -9 was saved again ${Math.round(performance.now() - killedAt)} ms after the kill (lease TTL 5 s)`,
    );
    await synced(relayed);
    expect(['n2', 'n3']).toContain(await ownerOf(draftId));
  }, 120_000);

  it('PG-144: kill -9 of the owner under ~250 updates/s from 5 writers spread over three processes: everything any client saw, and everything typed, is there after they reconnect; all converge', async () => {
    const { draftId } = await draftOn(node(0).url);
    const seed = client(node(0).url, draftId);
    await synced(seed);
    const agents = [0, 1, 2, 3, 4].map((i) => addItem(seed.doc, 'agents', { name: `Writer ${i}` }));
    // Writers 0 and 3 on the owner (n1), 1 and 4 relayed through n2, 2 relayed through n3.
    const writers = agents.map((agentId, i) => {
      const c = client(node(i % 3).url, draftId);
      return { c, agentId, typed: [] as string[] };
    });
    await Promise.all(writers.map((w) => synced(w.c)));
    await Promise.all(
      writers.map((w) => until(w.c.doc, (d) => agents.every((a) => instructionsOf(d, a) !== null))),
    );
    seed.destroy();
    let k = 0;
    // Each writer types a token every 20 ms (5 × 50 = 250 updates/s).
    const typing = setInterval(() => {
      k++;
      for (const [i, w] of writers.entries()) {
        const text = itemText(sectionMap(w.c.doc, 'agents').get(w.agentId), 'instructions')!;
        const token = `${i}.${k};`;
        text.insert(text.length, token);
        w.typed.push(token);
      }
    }, 20);
    cleanup.push(() => clearInterval(typing));
    const tokensIn = (d: Y.Doc) => agents.map((a) => instructionsOf(d, a) ?? '').join('');
    // Typing for a while, every writer seeing the others' work (through the owner).
    await Promise.all(writers.map((w) => until(w.c.doc, (d) => tokensIn(d).includes('4.50;'))));

    await node(0).kill();
    // What each client had seen from the others when the owner died.
    const seen = writers.map((w) => tokensIn(w.c.doc).split(';').filter(Boolean));
    cleanup.push(() => node(0).restart());
    await until(writers[1]!.c.doc, () => k > 150);
    clearInterval(typing);
    // The killed node's clients come back with it; the others reconnect to the next owner.
    await node(0).restart();
    const all = writers.flatMap((w) => w.typed);
    const complete = (d: Y.Doc) => {
      const text = tokensIn(d);
      return all.every((t) => text.includes(t));
    };
    await Promise.all(writers.map((w) => until(w.c.doc, complete)));
    for (const s of seen) for (const t of s) expect(all).toContain(`${t};`);
    const reader = client(node(2).url, draftId);
    await synced(reader);
    expect(complete(reader.doc)).toBe(true);
    for (const w of writers)
      expect(Y.encodeStateVector(w.c.doc)).toEqual(Y.encodeStateVector(reader.doc));
  }, 180_000);

  it('PG-150, PG-151: HTTP reads and changes through a process that does not own the draft: a read takes no lease and sees what editors stored; a Sync freezes it; an import is applied by the owner and reaches its editors', async () => {
    const { project, draftId } = await draftOn(node(0).url, true);
    const editor = client(node(0).url, draftId);
    await synced(editor);
    const agentId = [...sectionMap(editor.doc, 'agents').keys()][0]!;
    itemText(sectionMap(editor.doc, 'agents').get(agentId), 'instructions')!.insert(0, 'stored');
    const watcher = client(node(0).url, draftId);
    await until(watcher.doc, (d) => (instructionsOf(d, agentId) ?? '').startsWith('stored'));

    const dev = (project.environments as Env[])[0]!;
    const via2 = overTheWire(node(1).url, admin.token);
    const content = await via2.ok<WorkspaceContent>('GET', `/api/environments/${dev.id}/content`);
    expect(content.agents[agentId]!.instructions).toMatch(/^stored/);
    expect(await ownerOf(draftId)).toBe('n1');

    await via2.ok('POST', `/api/environments/${dev.id}/sync`, { confirmMissingSecrets: true });
    const test = (project.environments as Env[])[1]!;
    const synced2 = await via2.ok<WorkspaceContent>('GET', `/api/environments/${test.id}/content`);
    expect(synced2.agents[agentId]!.instructions).toMatch(/^stored/);

    // An import through n3 is made by n1 (the owner) and reaches its editor live.
    const via3 = overTheWire(node(2).url, admin.token);
    const imported = await via3.call('PUT', `/api/environments/${dev.id}/content`, {
      ...content,
      agents: {
        ...content.agents,
        [agentId]: { ...content.agents[agentId]!, instructions: 'imported' },
      },
    });
    expect(imported.status, JSON.stringify(imported.body)).toBe(200);
    await until(editor.doc, (d) => instructionsOf(d, agentId) === 'imported');
    expect(await ownerOf(draftId)).toBe('n1');
  }, 120_000);

  it('PG-152: a forwarded change is applied only on a ticket for its exact body; replayed, it changes nothing', async () => {
    const { draftId } = await draftOn(node(0).url);
    const editor = client(node(0).url, draftId);
    await synced(editor);
    // A change made on a copy of the draft, as a process that does not own it makes one.
    const copy = new Y.Doc();
    Y.applyUpdate(copy, Y.encodeStateAsUpdate(editor.doc));
    const updates: Uint8Array[] = [];
    copy.on('update', (u: Uint8Array) => void updates.push(u));
    const agentId = addItem(copy, 'agents', { name: 'Forwarded' });
    const enc = encoding.createEncoder();
    encoding.writeVarString(enc, 'test');
    encoding.writeUint8(enc, 1);
    encoding.writeVarUint(enc, updates.length);
    for (const u of updates) encoding.writeVarUint8Array(enc, u);
    const body = encoding.toUint8Array(enc);
    const digest = createHash('sha256').update(body).digest('base64url');

    const post = (ticket?: string, sent = body) =>
      fetch(`${node(0).url}/internal/drafts/${draftId}/edit`, {
        method: 'POST',
        headers: ticket ? { 'x-stagecoach-ticket': ticket } : {},
        body: sent,
      });
    const tickets = createTickets(CLUSTER_SECRET);
    const forged = createTickets(randomBytes(36).toString('base64'));
    const altered = new Uint8Array(body);
    altered[altered.length - 1]! ^= 1;
    for (const refused of [
      await post(),
      await post(forged.sign('edit', { draftId, digest })),
      await post(tickets.sign('relay', { draftId, digest })),
      await post(tickets.sign('edit', { draftId: 'other', digest })),
      await post(tickets.sign('edit', { draftId, digest }), altered),
    ])
      expect(refused.status).toBe(401);
    expect(instructionsOf(editor.doc, agentId)).toBeNull();

    const ticket = tickets.sign('edit', { draftId, digest });
    const first = await post(ticket);
    expect(await first.json()).toEqual({ stored: true });
    await until(editor.doc, (d) => instructionsOf(d, agentId) !== null);
    const after = Y.encodeStateVector(editor.doc);
    const again = await post(ticket);
    expect(await again.json()).toEqual({ stored: true });
    const reader = client(node(1).url, draftId);
    await synced(reader);
    expect(Y.encodeStateVector(reader.doc)).toEqual(after);
    expect([...sectionMap(reader.doc, 'agents').keys()].filter((k) => k === agentId)).toHaveLength(
      1,
    );
  }, 60_000);
});

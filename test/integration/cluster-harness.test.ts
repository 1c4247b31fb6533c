import fs from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { addItem } from '#schema/content/ydoc.ts';
import { startBalancer, type Balancer } from '../helpers/balancer.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { connect, synced, until, type Client } from '../helpers/clients.ts';
import { printOnFailure, startCluster, type Cluster } from '../helpers/cluster.ts';
import { newProject, overTheWire } from '../helpers/fixture.ts';
import { setupAdmin } from '../helpers/server.ts';

// One cluster for the file (three cold starts are most of its time); the test that kills a node
// restarts it, so every test finds three running nodes.
const shared: (() => unknown)[] = [];
let cluster: Cluster;
let lb: Balancer;
beforeAll(async () => {
  cluster = await startCluster(shared, { nodes: 3 });
  lb = await startBalancer(shared, cluster.nodes);
}, 90_000);
afterAll(async () => {
  for (const f of shared.splice(0).reverse()) await f();
});
const cleanup = cleanupAfterEach();
beforeEach(() => printOnFailure(cluster));

const servedSince = (from: number, kind: 'http' | 'upgrade') =>
  lb.served.slice(from).filter((s) => s.kind === kind);
const count = (nodes: string[]) =>
  Object.fromEntries(cluster.nodes.map((n) => [n.id, nodes.filter((x) => x === n.id).length]));

async function health(url: string): Promise<number> {
  const res = await fetch(`${url}/api/health`);
  await res.arrayBuffer();
  return res.status;
}

/** Opens a websocket through the balancer and waits until it is closed or refused. */
function upgradeOnce(path: string): Promise<void> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${lb.url.replace('http', 'ws')}${path}`);
    ws.addEventListener('close', () => resolve());
  });
}

const draftIds = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}-${i}`);

describe('PG-90 … PG-95: several server processes behind a balancer', () => {
  it('PG-90: starts N processes, each with its own port and DATA_DIR (NODE_ID and INTERNAL_URL come with DATABASE_URL)', async () => {
    const { nodes } = cluster;
    expect(nodes.map((n) => n.id)).toEqual(['n1', 'n2', 'n3']);
    expect(new Set(nodes.map((n) => n.port)).size).toBe(3);
    expect(new Set(nodes.map((n) => n.dataDir)).size).toBe(3);
    for (const n of nodes) {
      expect(await health(n.url)).toBe(200);
      const env = fs.readFileSync(`/proc/${n.pid()}/environ`, 'utf8').split('\0');
      expect(env.some((e) => e.startsWith('NODE_ID='))).toBe(false);
      expect(env).toContain(`DATA_DIR=${n.dataDir}`);
      expect(fs.existsSync(`${n.dataDir}/stagecoach.sqlite`)).toBe(true);
      expect(n.output()).toContain(`running at http://localhost:${n.port}`);
    }
  });

  it('PG-92: HTTP requests round-robin over every node', async () => {
    const from = lb.served.length;
    for (let i = 0; i < 30; i++) expect(await health(lb.url)).toBe(200);
    expect(count(servedSince(from, 'http').map((s) => s.node))).toEqual({ n1: 10, n2: 10, n3: 10 });
  });

  it('PG-93: upgrades of one draft id always land on one node, different ids spread', async () => {
    const ids = draftIds(24, 'spread');
    const from = lb.served.length;
    for (let round = 0; round < 2; round++)
      for (const id of ids) await upgradeOnce(`/collab/${id}`);
    const served = servedSince(from, 'upgrade');
    for (const id of ids) {
      // Node's WebSocket asks again after a 401 (no token here), so an id is served 2 or 4 times.
      const nodes = served.filter((s) => s.path === `/collab/${id}`).map((s) => s.node);
      expect(nodes.length).toBeGreaterThanOrEqual(2);
      expect(new Set(nodes)).toEqual(new Set([lb.order(id)[0]]));
    }
    const spread = count(served.map((s) => s.node));
    for (const n of cluster.nodes) expect(spread[n.id]).toBeGreaterThan(0);
    // Query strings (the token) do not change where a draft goes.
    await upgradeOnce(`/collab/${ids[0]}?token=x&mode=read`);
    expect(lb.served.at(-1)!.node).toBe(lb.order(ids[0]!)[0]);
  });

  it('PG-93: a forced draft goes to the node it is forced onto, and back to its hash after', async () => {
    const [id] = draftIds(1, 'forced');
    const home = lb.order(id!)[0]!;
    const other = cluster.nodes.find((n) => n.id !== home)!.id;
    lb.force(id!, other);
    await upgradeOnce(`/collab/${id}`);
    expect(lb.served.at(-1)!.node).toBe(other);
    lb.force(id!, undefined);
    await upgradeOnce(`/collab/${id}`);
    expect(lb.served.at(-1)!.node).toBe(home);
  });

  it('PG-91: pause() stops a node (its requests wait) and resume() lets it answer them', async () => {
    const [n1, n2] = cluster.nodes;
    await n2!.pause();
    let answered = false;
    const waiting = health(n2!.url).then((status) => ((answered = true), status));
    // While the paused node holds its request, another answers many: an ordering, not a sleep.
    for (let i = 0; i < 20; i++) expect(await health(n1!.url)).toBe(200);
    expect(answered).toBe(false);
    await n2!.resume();
    expect(await waiting).toBe(200);
  });

  it('PG-91: cpuMs() grows on every node under load through the balancer', async () => {
    const before = cluster.nodes.map((n) => n.cpuMs());
    const worker = async () => {
      for (let i = 0; i < 60; i++) expect(await health(lb.url)).toBe(200);
    };
    await Promise.all(Array.from({ length: 6 }, worker));
    cluster.nodes.forEach((n, i) => expect(n.cpuMs()).toBeGreaterThan(before[i]!));
  });

  it('PG-94, PG-95: a node killed -9 closes its sockets at the client, HTTP skips it, restart() brings it back', async () => {
    const victim = cluster.nodes[2]!;
    const admin = await setupAdmin(victim.url);
    const project = await newProject(overTheWire(victim.url, admin.token));
    const draftId = project.environments[0]!.draftId!;
    // The draft lives only in this node's SQLite file: force its socket there through the balancer.
    lb.force(draftId, victim.id);
    cleanup.push(() => lb.force(draftId, undefined));
    const client: Client = connect(lb.url, draftId, { token: admin.token });
    cleanup.push(() => client.destroy());
    await synced(client);
    addItem(client.doc, 'agents', { name: 'Before the kill' });
    const observer = connect(victim.url, draftId, { token: admin.token });
    cleanup.push(() => observer.destroy());
    await until(observer.doc, (d) => d.getMap('agents').size > 0);
    observer.destroy();

    const closed = new Promise<void>((resolve) =>
      client.provider.on('status', ({ status }) => status === 'disconnected' && resolve()),
    );
    await victim.kill();
    await closed;

    const from = lb.served.length;
    for (let i = 0; i < 12; i++) expect(await health(lb.url)).toBe(200);
    const skipped = count(servedSince(from, 'http').map((s) => s.node));
    expect(skipped.n3).toBe(0);
    expect(skipped.n1! + skipped.n2!).toBe(12);

    // Back on the same port with its data: the stock client reconnects through the balancer.
    await victim.restart();
    await synced(client);
    expect(client.doc.getMap('agents').size).toBe(1);
    const again = lb.served.length;
    for (let i = 0; i < 3; i++) expect(await health(lb.url)).toBe(200);
    expect(new Set(servedSince(again, 'http').map((s) => s.node)).size).toBe(3);
  }, 60_000);

  it('PG-90: the env parameter reaches every node; a node that cannot start fails with its output', async () => {
    await expect(
      startCluster(cleanup, { nodes: 1, env: { SESSION_TTL_DAYS: '0' } }),
    ).rejects.toThrow(/n1 exited \(1\) before it was ready:[\s\S]*SESSION_TTL_DAYS/);
  });

  it('PG-95: cleanup kills every node (also a paused one) and deletes its DATA_DIR', async () => {
    const own: (() => unknown)[] = [];
    const small = await startCluster(own, {
      nodes: 2,
      env: (id) => ({ COMPACT_AFTER_UPDATES: id === 'n1' ? '10' : '20' }),
    });
    const [a, b] = small.nodes;
    expect(fs.readFileSync(`/proc/${a!.pid()}/environ`, 'utf8')).toContain(
      'COMPACT_AFTER_UPDATES=10',
    );
    expect(fs.readFileSync(`/proc/${b!.pid()}/environ`, 'utf8')).toContain(
      'COMPACT_AFTER_UPDATES=20',
    );
    await b!.pause();
    for (const f of own.reverse()) await f();
    for (const n of small.nodes) {
      // Reaped (exited() waited for it), so the pid is gone from /proc.
      expect(fs.existsSync(`/proc/${n.pid()}`)).toBe(false);
      expect(fs.existsSync(n.dataDir)).toBe(false);
      expect(await fetch(`${n.url}/api/health`).catch(() => 'refused')).toBe('refused');
    }
  }, 60_000);
});

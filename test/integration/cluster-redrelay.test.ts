import { randomBytes } from 'node:crypto';
import * as encoding from 'lib0/encoding';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as syncProtocol from 'y-protocols/sync';
import { addItem, sectionMap } from '#schema/content/ydoc.ts';
import { CLOSE } from '#schema/errors.ts';
import { createTickets } from '#server/cluster/tickets.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { connect, synced, until, type Client } from '../helpers/clients.ts';
import { printOnFailure, startCluster, type Cluster } from '../helpers/cluster.ts';
import { openDeaf } from '../helpers/deaf-socket.ts';
import { newProject, newUser, overTheWire } from '../helpers/fixture.ts';
import { pgClusterEnv } from '../helpers/pg-cluster.ts';
import { startPostgres } from '../helpers/postgres.ts';
import { startRedis } from '../helpers/redis.ts';
import { setupAdmin, type Admin } from '../helpers/server.ts';

/**
 * Red team of the socket relay (PG-200 …): two real processes on a throwaway PostgreSQL 15 and
 * Redis; hostile clients speak the websocket protocol by hand where a stock client would be polite.
 */
const shared: (() => unknown)[] = [];
const CLUSTER_SECRET = randomBytes(36).toString('base64');
/** Small, so that a test fills it with a few frames. */
const MAX_BUFFERED = 256 * 1024;
let cluster: Cluster;
let admin: Admin;
let sql: pg.Pool;
beforeAll(async () => {
  const db = await startPostgres(shared);
  const redis = await startRedis(shared);
  cluster = await startCluster(shared, {
    nodes: 2,
    env: {
      ...pgClusterEnv(db.url, redis.url),
      CLUSTER_SECRET,
      COLLAB_MAX_BUFFERED_BYTES: String(MAX_BUFFERED),
    },
  });
  admin = await setupAdmin(cluster.nodes[0]!.url);
  sql = new pg.Pool({ connectionString: db.url, max: 1 });
  shared.push(() => sql.end());
}, 120_000);
afterAll(async () => {
  for (const f of shared.splice(0).reverse()) await f();
});
const cleanup = cleanupAfterEach();
beforeEach(() => printOnFailure(cluster));

const node = (i: number) => cluster.nodes[i]!;
const api = (i: number, token = admin.token) => overTheWire(node(i).url, token);

function client(i: number, draftId: string, token = admin.token): Client {
  const c = connect(node(i).url, draftId, { token });
  cleanup.push(() => c.destroy());
  return c;
}

/** A y-websocket frame carrying `update`. */
function updateFrame(update: Uint8Array): Uint8Array {
  const enc = encoding.createEncoder();
  encoding.writeVarUint(enc, 0);
  syncProtocol.writeUpdate(enc, update);
  return encoding.toUint8Array(enc);
}

/** A y-websocket frame announcing a presence whose `user.color` is `label`. */
function presenceFrame(label: string): Uint8Array {
  const doc = new Y.Doc();
  const aw = new awarenessProtocol.Awareness(doc);
  aw.setLocalStateField('user', { color: label });
  const enc = encoding.createEncoder();
  encoding.writeVarUint(enc, 1);
  encoding.writeVarUint8Array(enc, awarenessProtocol.encodeAwarenessUpdate(aw, [doc.clientID]));
  aw.destroy();
  doc.destroy();
  return encoding.toUint8Array(enc);
}

const labelsSeen = (c: Client) =>
  [...c.provider.awareness.getStates().entries()]
    .filter(([id]) => id !== c.doc.clientID)
    .map(([, s]) => (s as { user?: { color?: string } }).user?.color ?? '');

function presenceUntil(c: Client, wanted: (labels: string[]) => boolean): Promise<void> {
  if (wanted(labelsSeen(c))) return Promise.resolve();
  return new Promise((resolve) => {
    const on = () => {
      if (!wanted(labelsSeen(c))) return;
      c.provider.awareness.off('change', on);
      resolve();
    };
    c.provider.awareness.on('change', on);
  });
}

/** The Yjs update that adds an agent named `name` to the draft as `c` holds it. */
function agentUpdate(c: Client, name: string): Uint8Array {
  const copy = new Y.Doc();
  Y.applyUpdate(copy, Y.encodeStateAsUpdate(c.doc));
  const before = Y.encodeStateVector(copy);
  addItem(copy, 'agents', { name });
  const update = Y.encodeStateAsUpdate(copy, before);
  copy.destroy();
  return update;
}

const agentNames = (d: Y.Doc) =>
  [...sectionMap(d, 'agents').values()].map((a) => (a as Y.Map<unknown>).get('name'));

describe('PG-200 …: the relay under attack', () => {
  it('PG-200: a socket closed by the server (its token revoked) writes nothing more, even when its client never answers the close frame: on the owner, and relayed (the owner never saw the token)', async () => {
    const project = await newProject(api(0), { name: 'Relay red team' });
    const dev = project.environments[0]!;
    const draftId = dev.draftId!;
    const mallory = await newUser(api(0), 'mallory@example.com');
    await api(0).ok('PUT', `/api/projects/${project.id}/members/${mallory.id}`, {
      roles: { [dev.id]: ['editor'] },
    });
    // n1 owns the draft; mallory has a socket on n1 and one through n2 (relayed).
    const owner = client(0, draftId);
    await synced(owner);
    const sockets = await Promise.all(
      [0, 1].map(async (i) => {
        const deaf = await openDeaf(node(i).url, `/collab/${draftId}?token=${mallory.token}`);
        cleanup.push(() => deaf.destroy());
        deaf.send(presenceFrame(`mallory via n${i + 1}`));
        return { deaf, label: `mallory via n${i + 1}` };
      }),
    );
    await presenceUntil(owner, (l) => sockets.every((s) => l.includes(s.label)));

    // Her token is revoked: each process where she signed in closes her socket.
    const { tokens } = await mallory.ok<{ tokens: { id: string }[] }>('GET', '/api/tokens');
    for (const t of tokens) await mallory.ok('DELETE', `/api/tokens/${t.id}`);
    for (const { deaf, label } of sockets) {
      const close = await deaf.next(8);
      expect(close.payload.readUInt16BE(0)).toBe(CLOSE.session_ended);
      // She does not answer the close frame and keeps writing.
      deaf.send(updateFrame(agentUpdate(owner, `Written after revocation, ${label}`)));
      deaf.closeReply();
      await deaf.ended;
    }
    // Her presence leaves the owner (everything she sent before was handled there) …
    await presenceUntil(owner, (l) => !l.some((x) => x.startsWith('mallory')));
    // … and after a change stored after that, a new reader sees no trace of her writes.
    addItem(owner.doc, 'agents', { name: 'Marker' });
    const reader = client(0, draftId);
    await until(reader.doc, (d) => agentNames(d).includes('Marker'));
    const written = (d: Y.Doc) => agentNames(d).filter((n) => String(n).startsWith('Written'));
    expect(written(reader.doc)).toEqual([]);
    expect(written(owner.doc)).toEqual([]);
  }, 60_000);

  it('PG-201: a relay ticket opens one socket: the same ticket presented again (replayed by someone who saw it on the internal network) is refused before the upgrade', async () => {
    const project = await newProject(api(0), { name: 'Replayed ticket' });
    const draftId = project.environments[0]!.draftId!;
    const owner = client(0, draftId);
    await synced(owner);
    const ticket = createTickets(CLUSTER_SECRET).sign('relay', {
      draftId,
      userId: 'u',
      userName: 'Relayed',
      readOnly: false,
    });
    const path = `/internal/collab/${draftId}`;
    const first = await openDeaf(node(0).url, path, { 'x-stagecoach-relay': ticket });
    cleanup.push(() => first.destroy());
    await first.next(2);
    await expect(openDeaf(node(0).url, path, { 'x-stagecoach-relay': ticket })).rejects.toThrow(
      'not upgraded: 401',
    );
    // Another ticket for the same socket is served.
    const fresh = createTickets(CLUSTER_SECRET).sign('relay', {
      draftId,
      userId: 'u',
      userName: 'Relayed',
      readOnly: false,
    });
    const second = await openDeaf(node(0).url, path, { 'x-stagecoach-relay': fresh });
    cleanup.push(() => second.destroy());
    await second.next(2);
  }, 60_000);

  it("PG-202: read-only is decided where the person signed in and held by the owner: a viewer's relayed socket, and an editor's asking ?mode=read, are closed read_only by the owner when they write, and nothing of it is applied", async () => {
    const project = await newProject(api(0), { name: 'Relayed viewer' });
    const dev = project.environments[0]!;
    const draftId = dev.draftId!;
    const victor = await newUser(api(0), 'victor@example.com');
    await api(0).ok('PUT', `/api/projects/${project.id}/members/${victor.id}`, {
      roles: { [dev.id]: ['viewer'] },
    });
    const owner = client(0, draftId);
    await synced(owner);
    for (const [who, path] of [
      ['viewer', `/collab/${draftId}?token=${victor.token}`],
      ['reader', `/collab/${draftId}?token=${admin.token}&mode=read`],
    ] as const) {
      const hostile = await openDeaf(node(1).url, path);
      cleanup.push(() => hostile.destroy());
      // Served through the relay: the owner's sync step 1 arrives.
      await hostile.next(2);
      hostile.send(updateFrame(agentUpdate(owner, `Written by the ${who}`)));
      const close = await hostile.next(8);
      expect(close.payload.readUInt16BE(0)).toBe(CLOSE.read_only);
    }
    addItem(owner.doc, 'agents', { name: 'Marker' });
    const reader = client(1, draftId);
    await until(reader.doc, (d) => agentNames(d).includes('Marker'));
    expect(agentNames(reader.doc).filter((n) => String(n).startsWith('Written'))).toEqual([]);
  }, 60_000);

  it('PG-203: frames a client sends while its draft is still being opened (the lease asked of PostgreSQL) are held up to COLLAB_MAX_BUFFERED_BYTES; past that the socket is closed too_slow', async () => {
    const project = await newProject(api(0), { name: 'Early frames' });
    const draftId = project.environments[0]!.draftId!;
    // Every lease question waits while the test holds the table: n2 cannot open the draft.
    const lock = await sql.connect();
    await lock.query('begin');
    try {
      await lock.query('lock table draft_leases in access exclusive mode');
      const hostile = await openDeaf(node(1).url, `/collab/${draftId}?token=${admin.token}`);
      cleanup.push(() => hostile.destroy());
      const frame = new Uint8Array(64 * 1024).fill(7);
      for (let sent = 0; sent <= 4 * MAX_BUFFERED; sent += frame.byteLength) hostile.send(frame);
      // A generous bound: the close comes as soon as the bytes are read.
      const close = await Promise.race([
        hostile.next(8),
        new Promise<null>((r) => setTimeout(() => r(null), 15_000).unref()),
      ]);
      expect(close?.payload.readUInt16BE(0)).toBe(CLOSE.too_slow);
    } finally {
      await lock.query('rollback');
      lock.release();
    }
    // The draft opens normally afterwards.
    const c = client(1, draftId);
    await synced(c);
  }, 60_000);

  it('PG-204: a process shut down (SIGTERM) closes the sockets it relays, and the owner the sockets relayed to it, with shutting_down; presence leaves with them and every change they had seen is served afterwards', async () => {
    const project = await newProject(api(0), { name: 'Graceful shutdowns' });
    const draftId = project.environments[0]!.draftId!;
    const owner = client(0, draftId);
    await synced(owner);
    const relayed = client(1, draftId);
    await synced(relayed);
    const closeOf = (c: Client) =>
      new Promise<number>((resolve) =>
        c.provider.once('connection-close', (e) => resolve(e?.code ?? 0)),
      );
    relayed.provider.awareness.setLocalStateField('user', { color: 'relayed via n2' });
    await presenceUntil(owner, (l) => l.includes('relayed via n2'));
    addItem(relayed.doc, 'agents', { name: 'Typed through n2' });
    await until(owner.doc, (d) => agentNames(d).includes('Typed through n2'));

    // The relaying process stops: its client is told to reconnect, its presence leaves the owner.
    let closed = closeOf(relayed);
    process.kill(node(1).pid(), 'SIGTERM');
    const down1 = { yes: true };
    cleanup.push(() => (down1.yes ? node(1).restart() : undefined));
    expect(await closed).toBe(CLOSE.shutting_down);
    relayed.provider.disconnect();
    await presenceUntil(owner, (l) => !l.includes('relayed via n2'));
    await node(1).restart();
    down1.yes = false;

    // The owner stops: the socket relayed to it is closed with its code, and the client, back
    // through n2, is served everything by the next owner.
    relayed.provider.connect();
    await synced(relayed);
    await until(relayed.doc, (d) => agentNames(d).includes('Typed through n2'));
    addItem(owner.doc, 'agents', { name: 'Typed on the owner' });
    await until(relayed.doc, (d) => agentNames(d).includes('Typed on the owner'));
    closed = closeOf(relayed);
    process.kill(node(0).pid(), 'SIGTERM');
    const down0 = { yes: true };
    cleanup.push(() => (down0.yes ? node(0).restart() : undefined));
    expect(await closed).toBe(CLOSE.shutting_down);
    const reader = client(1, draftId);
    await until(
      reader.doc,
      (d) =>
        agentNames(d).includes('Typed through n2') && agentNames(d).includes('Typed on the owner'),
    );
    await node(0).restart();
    down0.yes = false;
  }, 120_000);
});
